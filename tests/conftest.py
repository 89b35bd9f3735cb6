import importlib

import pytest
from django.db import connections

from consistency.platform.schema import create_platform_tables
from tests.processes import forget_watched, watched_output
from tests.proxy import Proxy
from tests.worker import Worker, database_url, delete_queue, forget_broker_connections

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


APP_ROLE = "opsdash_app"


@pytest.fixture
def app_role():
    """
    The everyday role of the README ("Least privilege"), with exactly its grants on the test platform database.

    Roles belong to the whole PostgreSQL server: it is created once and kept (other
    databases may hold its grants); the grants are given here on this database.
    """
    import psycopg

    from consistency.platform import setup as platform_setup

    # On a connection of its own, committed at once: a DBA's script run by psql sees it too.
    with psycopg.connect(database_url("platform").replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(
            "do $$ begin create role opsdash_app login; exception when duplicate_object or unique_violation then null; end $$"
        )
    platform_setup.grant(APP_ROLE)
    return APP_ROLE


@pytest.fixture
def as_app_role(app_role):
    """Run this process's platform queries as the everyday role (SET ROLE on the platform connection)."""
    with connections["platform"].cursor() as cursor:
        cursor.execute(f"set role {APP_ROLE}")
        cursor.execute("select current_user")
        assert cursor.fetchone()[0] == APP_ROLE
    yield app_role
    # A test transaction's rollback undoes SET ROLE; a committed one needs the reset.
    if not connections["platform"].needs_rollback:
        with connections["platform"].cursor() as cursor:
            cursor.execute("reset role")


@pytest.fixture
def platform_proxy(committed_platform):
    """Put a proxy between opsdash and the platform database; the test decides when it fails."""
    settings_dict = connections["platform"].settings_dict
    original = settings_dict["HOST"], settings_dict["PORT"]
    host, port = settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)
    # A host that is a directory (the embedded server's) holds PostgreSQL's Unix socket.
    proxy = Proxy(f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port))
    connections["platform"].close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
    yield proxy
    connections["platform"].close()
    settings_dict["HOST"], settings_dict["PORT"] = original
    proxy.stop()


@pytest.fixture
def redis_proxy(isolated_queue, committed_platform):
    """Put a proxy between opsdash and Redis for the tasks it queues; the test decides when it fails."""
    from kombu.utils.url import url_to_parts

    from opsdash.celery import app

    names = ("broker_url", "broker_write_url", "broker_read_url")
    original = {name: app.conf[name] for name in names}
    parts = url_to_parts(original["broker_url"])
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    for name in names:
        app.conf[name] = f"redis://127.0.0.1:{proxy.port}/{parts.path or 0}"
    forget_broker_connections(app)
    yield proxy
    app.conf.update(original)
    forget_broker_connections(app)
    proxy.stop()
