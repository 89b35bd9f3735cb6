"""The engine: the checks and repairs of the three therapist tables, their SQL (consistency/sql/) and its helpers."""
