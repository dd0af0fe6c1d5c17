"""The rules of social assistance (社会救助) as pure Python: no I/O, safe in the workflow sandbox."""
