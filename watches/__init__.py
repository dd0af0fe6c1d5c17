"""Watches: loops that run beside the worker (``worker.py`` starts them), each looking every so
often for something to mend or mark in the records. Each pass is idempotent, so any number of
workers may run the same watch at once; a pass that fails (the engine or the database down) is
logged and the loop looks again next time."""
