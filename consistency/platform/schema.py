"""Create the platform tables in a database that lacks them (tests and the demo only)."""

from django.db import connections

from consistency.engine.checks import load_sql
from interventions.schema import ensure_intervention_log
from opsdash.db import PLATFORM_DB


def create_platform_tables(using=PLATFORM_DB):
    """Create users, therapist_enrollments, therapist_profiles and the intervention log."""
    with connections[using].cursor() as cursor:
        cursor.execute(load_sql("platform_schema.sql"))
    ensure_intervention_log(using)


def platform_tables_exist(using=PLATFORM_DB):
    """Tell whether the platform's therapist tables are there."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "select to_regclass('users') is not null and to_regclass('therapist_enrollments') is not null"
            " and to_regclass('therapist_profiles') is not null"
        )
        return cursor.fetchone()[0]
