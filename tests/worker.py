"""
A real Celery worker for the tests: a `celery worker` subprocess on the local Redis,
connected to the pytest databases, on a queue of its own.
"""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import quote
from uuid import uuid4

from django.conf import settings
from django.db import connections
from kombu import pools

from opsdash.celery import app
from tests.processes import watch


def delete_queue(name):
    """
    Delete a test's queue, with any task still in it, from Redis.

    kombu's queue_delete() only deletes what the same channel declared, so on a fresh
    connection it deleted nothing and every test left its queue behind.
    """
    with app.connection_for_write() as connection:
        bindings = (f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
        connection.default_channel.client.delete(name, *bindings)


def forget_broker_connections(app):
    """
    Close Celery's pooled broker connections and drop the pools, which keep the URL they were made for.

    kombu keeps one pool per URL in a registry of its own, which Celery's pools come
    from: closing one and keeping the registry would hand the closed pool back when
    the first URL is used again.
    """
    pools.reset()
    app._pool = app.amqp._producer_pool = None
    # The broadcast mailbox (inspect, ping) caches its producer pool too.
    app.control.mailbox.__dict__.pop("producer_pool", None)


def postgres_url(config, **changes):
    """Return a postgres:// URL for a Django DATABASES entry, with some parts changed."""
    parts = {**config, **changes}
    password = f":{parts['PASSWORD']}" if parts.get("PASSWORD") else ""
    # A host that is a directory (a Unix socket, as the embedded server's) is quoted whole.
    return f"postgres://{parts['USER']}{password}@{quote(parts['HOST'], safe='')}:{parts['PORT']}/{parts['NAME']}"


def database_url(alias):
    """Return a postgres:// URL of the test database behind a connection alias."""
    return postgres_url(connections[alias].settings_dict)


def wait_for(condition, timeout=60, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Worker:
    """A `celery worker` subprocess consuming a queue of its own; stopped by its pidfile."""

    def __init__(self, tmp_path, pool, concurrency, chunk_size, queue=None):
        self.queue = queue or f"opsdash-test-{uuid4().hex[:12]}"
        name = f"{self.queue}-{uuid4().hex[:6]}"
        self.pidfile = tmp_path / f"{name}.pid"
        self.logfile = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url("default"),
            "PLATFORM_DATABASE_URL": database_url("platform"),
            "OPSDASH_CELERY_QUEUE": self.queue,
            "OPSDASH_REPAIR_CHUNK_SIZE": str(chunk_size),
        }
        command = [
            sys.executable, "-m", "celery", "-A", "opsdash", "worker",
            f"--pool={pool}", f"--concurrency={concurrency}",
            f"--pidfile={self.pidfile}", f"--logfile={self.logfile}", "--loglevel=INFO",
            f"--hostname={name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        # A session of its own, so that kill() reaches its pool processes and nothing else.
        self.process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, start_new_session=True)
        watch(f"the Celery worker on {self.queue}", self.log)
        wait_for(self._ready, timeout=60, what="the worker to be ready")

    def _ready(self):
        if self.process.poll() is not None:
            raise AssertionError(f"the worker exited:\n{self.log()}")
        return "ready." in self.log()

    def log(self):
        return self.logfile.read_text() if self.logfile.exists() else ""

    def kill(self):
        """Kill the worker and its pool processes at once, as the OOM killer or a lost machine would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.pidfile.unlink(missing_ok=True)

    def stop(self):
        if self.process.poll() is None and self.pidfile.exists():
            os.kill(int(self.pidfile.read_text()), signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        delete_queue(self.queue)
