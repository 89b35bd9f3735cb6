"""
The idempotent DDL of manual_intervention_log, the one table opsdash may create in the platform database.

Only `manage.py platform_setup` (consistency.platform.setup), the safety net's install
and the demo and test setup run it; requests and jobs only require the table.
"""

from pathlib import Path

from django.db import connections

DDL = (Path(__file__).resolve().parent / "sql" / "manual_intervention_log.sql").read_text()


def ensure_intervention_log(using="platform"):
    """Create manual_intervention_log and its index where missing; never drop anything."""
    with connections[using].cursor() as cursor:
        cursor.execute(DDL)


class MissingInterventionLog(Exception):
    """The platform database has no manual_intervention_log: an owner must run platform_setup."""


def require_intervention_log(using="platform"):
    """Raise MissingInterventionLog unless manual_intervention_log exists."""
    from consistency.engine.checks import intervention_log_exists

    if not intervention_log_exists(using):
        raise MissingInterventionLog(
            "the platform database has no manual_intervention_log: run `python manage.py platform_setup` "
            "as the owner of its tables (or have a DBA run `platform_setup --sql`)"
        )
