"""Deterministic Temporal workflows. They import only ``domain``."""
