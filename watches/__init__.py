"""Loops that run beside the worker and keep the records whole; each is idempotent, so any
number of workers may run it."""
