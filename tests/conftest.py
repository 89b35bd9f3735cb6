import pytest
from django.db import connections

from consistency.schema import create_platform_tables

PLATFORM_TABLES = ("manual_intervention_log", "therapist_profiles", "therapist_enrollments", "user_credits", "users")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Create the platform tables in the test platform database from the shipped SQL."""
    with django_db_blocker.unblock():
        create_platform_tables()


def truncate_platform_tables():
    """Empty the platform tables; Django's flush skips them, being unmanaged."""
    with connections["platform"].cursor() as cursor:
        cursor.execute(f"truncate {', '.join(PLATFORM_TABLES)} cascade")


@pytest.fixture
def committed_platform(transactional_db, django_db_blocker):
    """For tests whose data must be committed (a worker, a live server): empty the platform tables after."""
    yield
    truncate_platform_tables()
