import importlib

import pytest
from django.db import connections

from consistency.schema import create_platform_tables
from tests.processes import forget_watched, watched_output
from tests.worker import Worker, delete_queue

# Seconds a test marked worker or browser may take, setup and teardown included: it
# starts processes (a Celery worker, Chromium, the run command). Every other test has
# pyproject.toml's `timeout`. A test's own @pytest.mark.timeout wins over both.
SLOW_TEST_TIMEOUT = 300

PLATFORM_TABLES = ("manual_intervention_log", "therapist_profiles", "therapist_enrollments", "user_credits", "users")


def pytest_collection_modifyitems(items):
    """Give the tests marked worker or browser the longer timeout."""
    for item in items:
        if item.get_closest_marker("timeout") is None and (
            item.get_closest_marker("worker") or item.get_closest_marker("browser")
        ):
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Add the output of the processes a failed test started (tests/processes.py) to its report."""
    report = yield
    if report.failed:
        for name, output in watched_output():
            report.sections.append((f"Output of {name} ({report.when})", output or "(nothing)"))
    if report.when == "teardown":
        forget_watched()
    return report


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


def role(name):
    """
    Return the group of a role, made by the data migration consistency 0004_roles.

    A transactional test (live server, worker) ends with a flush that empties the
    auth tables; the permissions come back with it (post_migrate), the groups do not:
    make them again from the migration's own definition.
    """
    from django.apps import apps
    from django.contrib.auth.models import Group

    if not Group.objects.filter(name=name).exists():
        importlib.import_module("consistency.migrations.0004_roles").create_groups(apps)
    return Group.objects.get(name=name)


# People of the dashboard, one per role.
@pytest.fixture
def victor(django_user_model):
    """A viewer: sees every page, may act on nothing."""
    user = django_user_model.objects.create_user("victor", password="victor-password-1")
    user.groups.add(role("Viewers"))
    return user


@pytest.fixture
def olivia(django_user_model):
    """An operator: may also run jobs, resync, resolve and annotate."""
    user = django_user_model.objects.create_user("olivia", password="olivia-password-1")
    user.groups.add(role("Operators"))
    return user


@pytest.fixture
def sam(django_user_model):
    """A superuser: may also install and roll back the safety net."""
    return django_user_model.objects.create_superuser("sam", password="sam-password-1")


@pytest.fixture
def viewer_client(client, victor):
    client.force_login(victor)
    return client


@pytest.fixture
def operator_client(client, olivia):
    client.force_login(olivia)
    return client


@pytest.fixture
def superuser_client(client, sam):
    client.force_login(sam)
    return client


@pytest.fixture
def isolated_queue(settings):
    """
    Send this test's Celery tasks to a queue of its own on the real Redis, and drop it after.

    No worker listens there: the test sees how many tasks were queued (``queued()``),
    and nothing it queued reaches another test's worker.
    """
    from uuid import uuid4

    from opsdash.celery import app

    name = f"opsdash-test-{uuid4().hex[:12]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name

    class Queue:
        def queued(self):
            with app.connection_for_write() as connection:
                return connection.default_channel.client.llen(name)

    yield Queue()
    delete_queue(name)


@pytest.fixture
def start_worker(committed_platform, settings, tmp_path):
    """Start a worker (pool, concurrency, chunk size, queue: a new one by default); this process queues to its queue. Stopped after."""
    workers = []

    def start(pool="solo", concurrency=1, chunk_size=2, queue=None):
        worker = Worker(tmp_path, pool, concurrency, chunk_size, queue=queue)
        workers.append(worker)
        settings.CELERY_TASK_DEFAULT_QUEUE = worker.queue
        return worker

    yield start
    for worker in workers:
        worker.stop()
