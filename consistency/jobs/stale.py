"""
Find the active jobs that no worker will finish any more, and end them (README "Stale jobs").

A job is stale when

- it is running, and a chunk has been running for longer than its task's hard time
  limit (Celery kills a task at that limit, so the worker that held it is gone);
- it is running, and nothing has progressed (no chunk started or finished) for longer
  than the step in hand may take: its tasks were lost, with a killed worker or a Redis
  that lost its data;
- it is queued, for longer than OPSDASH_STALE_JOB_GRACE, and its task is in no queue
  and held by no worker.

Celery beat runs end_stale_jobs every minute (settings.CELERY_BEAT_SCHEDULE); the jobs
page shows a running job's staleness and lets an operator end it.
"""

import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from consistency.jobs import runner
from consistency.models import FINISHED_CHUNK_STATES, ChunkState, JobKind, JobRun, JobState

logger = logging.getLogger(__name__)

START_TASK, CHUNK_TASK, CLOSE_TASK, RESYNC_TASK = "repair_all", "repair_chunk", "finish_repair_all", "resync_therapist"
# Beyond this many waiting messages the queue is not searched: a job is then never
# called lost, rather than called lost wrongly.
QUEUE_SCAN_LIMIT = 10_000


def time_limit(name: str) -> timedelta | None:
    """Return the hard time limit of a task of consistency.tasks (CELERY_TASK_ANNOTATIONS, else the default), or None."""
    from consistency import tasks  # they call this module

    seconds = getattr(tasks, name).time_limit or current_app.conf.task_time_limit
    return timedelta(seconds=seconds) if seconds else None


def _at(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _minutes(limit):
    return f"{limit.total_seconds() / 60:g} min"


def stale_reason(job: JobRun, now: datetime | None = None) -> str | None:
    """Return why a running job is stale, or None while it may still progress (reads opsdash's database only)."""
    if job.state != JobState.RUNNING:
        return None
    now = now or timezone.now()
    grace = settings.OPSDASH_STALE_JOB_GRACE
    started = job.started_at or job.created_at
    if job.kind == JobKind.RESYNC:
        limit = time_limit(RESYNC_TASK)
        if limit and started < now - limit - grace:
            return (
                f"it has been running since {_at(started)}, longer than its time limit of {_minutes(limit)}: "
                "its worker was lost"
            )
        return None
    chunks = list(job.chunks.only("index", "state", "started_at", "finished_at"))
    chunk_limit = time_limit(CHUNK_TASK)
    running = [c for c in chunks if c.state == ChunkState.RUNNING]
    for chunk in running:
        if chunk_limit and chunk.started_at is not None and chunk.started_at < now - chunk_limit - grace:
            return (
                f"chunk {chunk.index} has been running since {_at(chunk.started_at)}, longer than its time limit "
                f"of {_minutes(chunk_limit)}: its worker was lost"
            )
    if running:
        return None
    if not chunks:
        step, limit = "starting", time_limit(START_TASK)
    elif any(c.state not in FINISHED_CHUNK_STATES for c in chunks):
        step, limit = "its chunks", chunk_limit
    else:
        step, limit = "closing", time_limit(CLOSE_TASK)
    last = max([started] + [t for c in chunks for t in (c.started_at, c.finished_at) if t])
    if limit and last < now - limit - grace:
        done = sum(c.state == ChunkState.DONE for c in chunks)
        return (
            f"nothing has progressed since {_at(last)} ({step}, {done} of {len(chunks)} chunks done), longer than "
            f"the {_minutes(limit)} that step may take: its tasks were lost (a worker killed, or Redis lost its data)"
        )
    return None


def lost_before(now: datetime | None = None) -> datetime | None:
    """Return the moment before which a running chunk's worker must be gone."""
    limit = time_limit(CHUNK_TASK)
    return (now or timezone.now()) - limit - settings.OPSDASH_STALE_JOB_GRACE if limit else None


def _waiting_task_ids(connection, queue):
    """
    Return the ids of the tasks waiting in ``queue``, or None if there are too many to read.

    Neither kombu nor Celery lists a queue's messages; on Redis a queue is a list of
    kombu's JSON messages, each naming its task in ``headers.id``. opsdash's tasks are
    sent without a priority, so they all wait in the list named after the queue.
    """
    client = connection.default_channel.client
    if client.llen(queue) > QUEUE_SCAN_LIMIT:
        return None
    ids = set()
    for raw in client.lrange(queue, 0, -1):
        try:
            ids.add(json.loads(raw)["headers"]["id"])
        except (ValueError, KeyError, TypeError):
            continue
    return ids


def held_task_ids(task_ids: Iterable[str]) -> set[str] | None:
    """
    Return which of ``task_ids`` a queue or a worker holds, or None when that cannot be told.

    The queue is read first and the workers asked after: a task moves from the queue to
    a worker, so it cannot slip between the two looks. A worker answers for the tasks it
    runs, has reserved and has scheduled for later (a retry's countdown), within
    OPSDASH_WORKER_INSPECT_TIMEOUT seconds; one that does not answer holds nothing.
    """
    wanted = set(task_ids)
    try:
        with current_app.connection_for_read() as connection:
            waiting = _waiting_task_ids(connection, settings.CELERY_TASK_DEFAULT_QUEUE)
            if waiting is None:
                return None
            held = wanted & waiting
            missing = sorted(wanted - held)
            if missing:
                inspect = current_app.control.inspect(
                    timeout=settings.OPSDASH_WORKER_INSPECT_TIMEOUT, connection=connection
                )
                for tasks in (inspect.query_task(*missing) or {}).values():
                    held |= wanted & set(tasks)
    except (KombuError, RedisError, OSError) as exc:
        logger.warning("Could not tell which tasks are held: %s", exc)
        return None
    return held


def end_stale_jobs(now: datetime | None = None) -> list[int]:
    """
    End every stale job as failed, with the reason in its history; return their ids.

    1. Running jobs, by the time rules of stale_reason.
    2. Queued jobs older than OPSDASH_STALE_JOB_GRACE whose task no queue or worker
       holds; skipped when the broker cannot be asked.
    """
    now = now or timezone.now()
    ended = []
    for job in JobRun.objects.filter(state=JobState.RUNNING):
        reason = stale_reason(job, now)
        if reason and runner.end_job(
            job.pk, JobState.FAILED, f"Stale: {reason}.", lost_before=lost_before(now), from_states=[JobState.RUNNING]
        ):
            ended.append(job.pk)
    queued = list(JobRun.objects.filter(state=JobState.QUEUED, created_at__lt=now - settings.OPSDASH_STALE_JOB_GRACE))
    held = held_task_ids([job.celery_task_id for job in queued if job.celery_task_id]) if queued else set()
    if held is None:
        return ended
    for job in queued:
        if job.celery_task_id in held:
            continue
        reason = (
            f"Stale: queued at {_at(job.created_at)}, and its task {job.celery_task_id or '(none)'} is in no queue "
            "and held by no worker (a worker killed, or Redis lost its data). Nothing was changed; start the job again."
        )
        if runner.end_job(job.pk, JobState.FAILED, reason, from_states=[JobState.QUEUED]):
            ended.append(job.pk)
    for pk in ended:
        logger.warning("Ended stale job #%s", pk)
    return ended
