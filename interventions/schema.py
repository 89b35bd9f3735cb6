"""
The idempotent DDL of manual_intervention_log, the one table opsdash may create in the platform database.

Only `manage.py platform_setup` (consistency.platform.setup), the safety net's install
and the demo and test setup run it; requests and jobs only require the table.
"""

from pathlib import Path

from django.db import connections

from opsdash.db import PLATFORM_DB

DDL = (Path(__file__).resolve().parent / "sql" / "manual_intervention_log.sql").read_text()


def ensure_intervention_log(using=PLATFORM_DB):
    """Create manual_intervention_log and its index where missing; never drop anything."""
    with connections[using].cursor() as cursor:
        cursor.execute(DDL)


class MissingInterventionLog(Exception):
    """The platform database has no manual_intervention_log: an owner must run platform_setup."""


def intervention_log_exists(using=PLATFORM_DB):
    """Tell whether the platform database has manual_intervention_log (docs/rules.md §1)."""
    with connections[using].cursor() as cursor:
        cursor.execute("select to_regclass('manual_intervention_log') is not null")
        return cursor.fetchone()[0]


def require_intervention_log(using=PLATFORM_DB):
    """Raise MissingInterventionLog unless manual_intervention_log exists."""
    if not intervention_log_exists(using):
        raise MissingInterventionLog(
            "the platform database has no manual_intervention_log: run `python manage.py platform_setup` "
            "as the owner of its tables (or have a DBA run `platform_setup --sql`)"
        )
