"""The idempotent DDL of manual_intervention_log, the one thing opsdash may create in the platform database."""

from pathlib import Path

from django.db import connections

DDL = (Path(__file__).resolve().parent / "sql" / "manual_intervention_log.sql").read_text()


def ensure_intervention_log(using="platform"):
    """Create manual_intervention_log and its index where missing; never drop anything."""
    with connections[using].cursor() as cursor:
        cursor.execute(DDL)
