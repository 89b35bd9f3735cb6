"""Fill the platform tables with demo data (seed_platform; tests, demo and benchmarks only)."""

import re
import time

from django.db import connections, transaction

from consistency.engine.checks import load_sql
from consistency.platform.schema import create_platform_tables
from opsdash.db import PLATFORM_DB

SEEDED_TABLES = ("manual_intervention_log", "therapist_profiles", "therapist_enrollments", "user_credits", "users")


class PlatformNotEmpty(Exception):
    """The platform database already holds users: seeding would mix demo data into it."""


def _statements():
    # Statements in seed_platform.sql are separated by blank lines.
    return [s for s in re.split(r";\s*\n\s*\n", load_sql("seed_platform.sql")) if s.strip()]


def count_users(using=PLATFORM_DB):
    with connections[using].cursor() as cursor:
        cursor.execute("select count(*) from users")
        return cursor.fetchone()[0]


def seed_platform(therapists, drift, seed=1, replace=False, using=PLATFORM_DB, progress=None):
    """
    Create the platform tables if missing and fill them with ``therapists`` therapists.

    1. Refuse when users exist, unless ``replace`` empties the tables first.
    2. Run seed_platform.sql in one transaction, statement by statement.
    3. ANALYZE the tables, so the checks' plans fit the new data.
    """
    create_platform_tables(using)
    existing = count_users(using)
    if existing and not replace:
        raise PlatformNotEmpty(f"the platform database already has {existing} users")
    params = {"therapists": therapists, "drift": drift, "seed": seed}
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if replace:
            cursor.execute(f"truncate {', '.join(SEEDED_TABLES)} cascade")
        for statement in _statements():
            started = time.monotonic()
            cursor.execute(statement, params)
            if progress:
                progress(statement, time.monotonic() - started)
    with connections[using].cursor() as cursor:
        cursor.execute("analyze users, therapist_enrollments, therapist_profiles")
