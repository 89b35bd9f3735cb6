"""
Is opsdash working: its workers, its queue, its snapshots, its databases and Redis.

The overview's health strip, /readyz and /metrics read these. Every call to something
outside the process has a bounded timeout, and the workers' answer to Celery's ping is
cached for OPSDASH_WORKER_CACHE_SECONDS: the overview polls every few seconds from
every open tab, and an inspect broadcast waits its whole timeout for replies.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from consistency.models import MetricSnapshot
from opsdash.celery import app
from opsdash.db import PLATFORM_DB

# How far back the queue's length is remembered to tell whether it grows.
QUEUE_WINDOW_SECONDS = 5 * 60
QUEUE_GROWTH_SECONDS = 60


def _queue():
    return settings.CELERY_TASK_DEFAULT_QUEUE


def _redis_client():
    timeout = settings.OPSDASH_READY_TIMEOUT
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=timeout, socket_connect_timeout=timeout)


def ping_workers():
    """
    Return the names of the workers consuming opsdash's queue, or None when the broker is unreachable.

    Asks every worker for its queues (Celery's inspect, a broadcast over Redis) and
    waits OPSDASH_WORKER_PING_TIMEOUT_MS for the replies: a worker busy with a task
    still answers, as its consumer thread replies.
    """
    inspector = app.control.inspect(timeout=settings.OPSDASH_WORKER_PING_TIMEOUT_MS / 1000)
    try:
        replies = inspector.active_queues() or {}
    except Exception:  # kombu and redis-py each raise their own kinds of connection error
        return None
    queue = _queue()
    return sorted(name for name, queues in replies.items() if any(q.get("name") == queue for q in queues or ()))


def workers():
    """Return ping_workers(), cached for OPSDASH_WORKER_CACHE_SECONDS."""
    key = f"opsdash:workers:{_queue()}"
    found = cache.get(key)
    if found is None:
        answer = ping_workers()
        found = {"names": answer, "reachable": answer is not None}
        cache.set(key, found, settings.OPSDASH_WORKER_CACHE_SECONDS)
    return found["names"] if found["reachable"] else None


def queue_length():
    """Return how many tasks wait in opsdash's queue, or None when Redis does not answer."""
    try:
        return _redis_client().llen(_queue())
    except redis.RedisError:
        return None


def queue_grew(length, now=None):
    """
    Remember this reading of the queue's length; tell whether it is longer than a minute ago.

    A repair-all queues all its chunks at once and the workers then shorten the queue,
    so a queue longer now than QUEUE_GROWTH_SECONDS ago means work arrives faster than
    it is done (or nobody does it).
    """
    if length is None:
        return False
    now = time.time() if now is None else now
    key = f"opsdash:queue-lengths:{_queue()}"
    readings = [(t, n) for t, n in cache.get(key, []) if now - t <= QUEUE_WINDOW_SECONDS]
    earlier = [n for t, n in readings if now - t >= QUEUE_GROWTH_SECONDS]
    readings.append((now, length))
    cache.set(key, readings, QUEUE_WINDOW_SECONDS)
    return bool(earlier) and length > earlier[-1]


def snapshot_stale_after(snapshot=None):
    """Return the age past which beat has missed two snapshots."""
    duration = timedelta(milliseconds=snapshot.duration_ms) if snapshot else timedelta(0)
    return timedelta(minutes=2 * settings.OPSDASH_SNAPSHOT_MINUTES) + duration


@dataclass
class Health:
    """What the overview's health strip shows."""

    workers: list | None
    queue: str
    queue_length: int | None
    queue_grew: bool
    snapshot_at: object
    snapshot_age: timedelta | None
    snapshot_minutes: int
    snapshot_stale: bool
    warnings: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.warnings


def health():
    """Return the health of the workers, the queue and the snapshots, with a warning per problem."""
    names = workers()
    length = queue_length()
    grew = queue_grew(length)
    snapshot = MetricSnapshot.objects.order_by("-taken_at").only("taken_at", "duration_ms").first()
    age = timezone.now() - snapshot.taken_at if snapshot else None
    stale = age is None or age > snapshot_stale_after(snapshot)
    warnings = []
    if names is None:
        warnings.append("The task queue (Redis) does not answer: no job can start.")
    elif not names:
        warnings.append(f"No worker is consuming the queue {_queue()}: jobs and snapshots wait until one starts.")
    if stale:
        warnings.append(
            f"No snapshot has been taken yet: Celery beat takes one every {settings.OPSDASH_SNAPSHOT_MINUTES} min "
            "once it runs (Refresh now takes one at once)."
            if snapshot is None
            else f"Celery beat has missed two snapshots (one is due every {settings.OPSDASH_SNAPSHOT_MINUTES} min): "
            "the figures are getting old."
        )
    if grew:
        warnings.append(f"The queue has grown to {length} tasks in the last minute: the workers do not keep up.")
    return Health(
        workers=names,
        queue=_queue(),
        queue_length=length,
        queue_grew=grew,
        snapshot_at=snapshot.taken_at if snapshot else None,
        snapshot_age=age,
        snapshot_minutes=settings.OPSDASH_SNAPSHOT_MINUTES,
        snapshot_stale=stale,
        warnings=warnings,
    )


# ------------------------------------------------------------------------------
# Readiness (/readyz)
# ------------------------------------------------------------------------------
def _connect(alias):
    """Open a connection of its own to a database, with bounded connect and statement timeouts."""
    db = connections[alias].settings_dict
    timeout = settings.OPSDASH_READY_TIMEOUT
    return psycopg.connect(
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        dbname=db.get("NAME"),
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        connect_timeout=timeout,
        options=f"-c statement_timeout={timeout * 1000}",
        autocommit=True,
    )


def _database_up(alias):
    with _connect(alias) as connection:
        connection.execute("select 1")
    return True


def _snapshot_fresh():
    """Tell whether the latest snapshot is younger than snapshot_stale_after()."""
    table = MetricSnapshot._meta.db_table
    with _connect("default") as connection:
        row = connection.execute(
            f"select taken_at, duration_ms from {table} order by taken_at desc limit 1"  # noqa: S608 a model's table name
        ).fetchone()
    if row is None:
        return False
    stale_after = snapshot_stale_after(MetricSnapshot(taken_at=row[0], duration_ms=row[1]))
    return timezone.now() - row[0] <= stale_after


def _redis_up():
    return bool(_redis_client().ping())


def _workers_up():
    return bool(workers())


READINESS_CHECKS = {
    "database": lambda: _database_up("default"),
    "platform_database": lambda: _database_up(PLATFORM_DB),
    "redis": _redis_up,
    "workers": _workers_up,
    "snapshot": _snapshot_fresh,
}


def _up(check):
    try:
        return bool(check())
    except Exception:  # any failure of a dependency means "down", and nothing more is told
        return False


def readiness():
    """Return {dependency: True/False} for every readiness check, run side by side, each bounded."""
    with ThreadPoolExecutor(max_workers=len(READINESS_CHECKS)) as pool:
        futures = {name: pool.submit(_up, check) for name, check in READINESS_CHECKS.items()}
        return {name: future.result() for name, future in futures.items()}
