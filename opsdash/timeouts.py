"""
The timeouts of the database connections: short for web requests, longer for jobs.

settings.py gives every connection the web's statement timeout. The Celery worker
(opsdash.celery, on worker_init, before its pool forks) and the commands that run
jobs call use_job_timeouts(), which gives the connections they open from then on
the job's statement timeout and the repair's lock timeout.
"""

from django.conf import settings
from django.db import connections


def database_options(connect_timeout, statement_timeout, lock_timeout=None):
    """Return the psycopg connection options for these timeouts, in seconds."""
    server = f"-c statement_timeout={statement_timeout * 1000}"
    if lock_timeout:
        server += f" -c lock_timeout={lock_timeout * 1000}"
    return {"connect_timeout": connect_timeout, "options": server}


def use_job_timeouts():
    """Give this process's connections, open ones included, the job's statement and lock timeouts."""
    options = database_options(
        settings.OPSDASH_DB_CONNECT_TIMEOUT, settings.OPSDASH_JOB_STATEMENT_TIMEOUT, settings.OPSDASH_JOB_LOCK_TIMEOUT
    )
    for alias in settings.DATABASES:
        connection = connections[alias]
        connection.settings_dict["OPTIONS"] = {**connection.settings_dict.get("OPTIONS", {}), **options}
        if connection.connection is not None:
            # Set on the open connection rather than closing it: a caller (a test, a
            # command called by another) may be inside a transaction on it.
            with connection.cursor() as cursor:
                cursor.execute(
                    "select set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false)",
                    [f"{settings.OPSDASH_JOB_STATEMENT_TIMEOUT}s", f"{settings.OPSDASH_JOB_LOCK_TIMEOUT}s"],
                )
