"""What a route asks for, without HTTP: each function takes keyword arguments, calls the
workflows and the store, and raises the domain's refusals (``domain.errors``) only."""
