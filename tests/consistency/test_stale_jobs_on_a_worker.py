"""
No job stays stuck, on a real worker: a `celery worker` subprocess killed with SIGKILL,
and Redis losing its data (FLUSHDB of the test run's own Redis database, the one of
CELERY_BROKER_URL) while a repair-all runs.

Each test holds a row of chunk 1 locked from another connection, so the kill or the
flush lands while chunk 1 is in hand, chunk 0 is done and chunks 2 and 3 wait. The
stale-job check needs a chunk's time limit to pass: the job's timestamps are moved
back by that much instead of waiting for it.
"""

from datetime import timedelta
from uuid import uuid4

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from consistency import tasks
from consistency.jobs import service as jobs
from consistency.jobs import stale as stale_jobs
from consistency.models import ChunkState, JobRun, JobState
from opsdash.celery import app
from tests.consistency.test_tasks import RowLock, _backend_waiting_on_a_lock, finished, users_by_id
from tests.factories import make_therapist
from tests.helpers import move_back
from tests.worker import database_url, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(databases=["default", "platform"], transaction=True)]

CHUNK_STALE_AFTER = (
    stale_jobs.time_limit(stale_jobs.CHUNK_TASK) + settings.OPSDASH_STALE_JOB_GRACE + timedelta(seconds=1)
)


def chunk_outcomes(job):
    """
    Say of each chunk whether its therapists' user names were all repaired ("applied") or none ("untouched").

    Read through a connection of its own, from the platform tables; "mixed" would be a
    chunk half written.
    """
    outcomes = []
    with psycopg.connect(database_url("platform").replace("postgres://", "postgresql://")) as connection:
        for chunk in job.chunks.order_by("index"):
            repaired = connection.execute(
                """select bool_and(u.full_name = e.full_name), bool_or(u.full_name = e.full_name)
                     from users u join therapist_enrollments e on e.user_id = u.id
                    where u.id > %s and u.id <= %s""",
                [chunk.after, chunk.upto],
            ).fetchone()
            outcomes.append({(True, True): "applied", (False, False): "untouched"}.get(repaired, "mixed"))
    return outcomes


def everyone_consistent():
    with psycopg.connect(database_url("platform").replace("postgres://", "postgresql://")) as connection:
        return connection.execute(
            "select bool_and(u.full_name = e.full_name) from users u join therapist_enrollments e on e.user_id = u.id"
        ).fetchone()[0]


def chunk_states(job):
    return [c.state for c in job.chunks.order_by("index")]


def backend_gone(pid):
    with connections["platform"].cursor() as cursor:
        cursor.execute("select not exists (select 1 from pg_stat_activity where pid = %s)", [pid])
        return cursor.fetchone()[0]


def run_stale_job_check(worker):
    """Run the beat task once on the worker, as Celery beat does every minute."""
    tasks.end_stale_jobs.apply_async(queue=worker.queue)


def flush_redis():
    """Empty the test run's own Redis database, as a Redis restarted without its data (never FLUSHALL)."""
    with app.connection_for_write() as connection:
        connection.default_channel.client.flushdb()


def test_a_worker_killed_in_the_middle_of_repair_all_leaves_each_chunk_applied_or_untouched(
    start_worker, alice, bob, name_drifts
):
    first = start_worker()
    lock = RowLock(users_by_id(name_drifts)[2].id)  # the first therapist of chunk 1
    try:
        job = jobs.start_repair_all(alice)
        waiting = wait_for(_backend_waiting_on_a_lock, what="chunk 1 to wait on the lock")
        first.kill()
    finally:
        lock.release()
    # PostgreSQL rolls the killed worker's transaction back when it finds its client gone.
    wait_for(lambda: backend_gone(waiting), what="the killed worker's connection to end")
    second = start_worker(queue=first.queue)
    wait_for(lambda: chunk_states(job)[2:] == [ChunkState.DONE] * 2, what="the new worker to run chunks 2 and 3")
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and stale_jobs.stale_reason(job) is None  # not yet past the time limit

    move_back(job, CHUNK_STALE_AFTER)
    run_stale_job_check(second)
    job = finished(job)
    assert job.state == JobState.FAILED
    assert "Stale: chunk 1 has been running since" in job.events.last().message
    assert chunk_states(job) == [ChunkState.DONE, ChunkState.FAILED, ChunkState.DONE, ChunkState.DONE]
    assert chunk_outcomes(job) == ["applied", "untouched", "applied", "applied"]

    again = finished(jobs.start_repair_all(bob))
    assert again.state == JobState.SUCCEEDED, again.error
    assert again.therapists_changed == 2  # chunk 1's two therapists
    assert everyone_consistent()


def test_redis_losing_its_data_while_repair_all_runs_leaves_each_chunk_applied_or_untouched(
    start_worker, alice, bob, name_drifts
):
    worker = start_worker()
    lock = RowLock(users_by_id(name_drifts)[2].id)
    try:
        job = jobs.start_repair_all(alice)
        wait_for(_backend_waiting_on_a_lock, what="chunk 1 to wait on the lock")
        flush_redis()  # chunks 2 and 3 waited in the queue; the chord's count goes too
    finally:
        lock.release()
    wait_for(lambda: chunk_states(job)[1] == ChunkState.DONE, what="chunk 1 to finish")
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and chunk_states(job)[2:] == [ChunkState.PENDING] * 2

    move_back(job, CHUNK_STALE_AFTER)
    run_stale_job_check(worker)
    job = finished(job)
    assert job.state == JobState.FAILED
    assert "nothing has progressed since" in job.error and "2 of 4 chunks done" in job.error
    assert chunk_states(job) == [ChunkState.DONE, ChunkState.DONE, ChunkState.SKIPPED, ChunkState.SKIPPED]
    assert chunk_outcomes(job) == ["applied", "applied", "untouched", "untouched"]

    again = finished(jobs.start_repair_all(bob))
    assert again.state == JobState.SUCCEEDED, again.error
    assert again.therapists_changed == 3
    assert everyone_consistent()


def test_after_redis_lost_its_chunks_cancel_ends_the_repair_all_at_once(start_worker, alice, bob, name_drifts):
    start_worker()
    lock = RowLock(users_by_id(name_drifts)[2].id)
    try:
        job = jobs.start_repair_all(alice)
        wait_for(_backend_waiting_on_a_lock, what="chunk 1 to wait on the lock")
        flush_redis()
    finally:
        lock.release()
    wait_for(lambda: chunk_states(job)[1] == ChunkState.DONE, what="chunk 1 to finish")
    assert jobs.request_cancel(job, alice)
    assert job.state == JobState.CANCELLED
    assert chunk_outcomes(job) == ["applied", "applied", "untouched", "untouched"]
    assert finished(jobs.start_repair_all(bob)).state == JobState.SUCCEEDED
    assert everyone_consistent()


def test_a_queued_job_a_worker_holds_is_not_stale_until_that_worker_is_killed(start_worker, alice, settings):
    settings.OPSDASH_WORKER_INSPECT_TIMEOUT = 1.0
    worker = start_worker()
    make_therapist(email="held@example.com")
    job = jobs.start_resync(alice, "held@example.com", queue=False)
    task_id = str(uuid4())
    JobRun.objects.filter(pk=job.pk).update(celery_task_id=task_id)
    # As a retry after a dropped connection: the worker holds the task until its countdown ends.
    tasks.resync_therapist.apply_async((job.pk,), task_id=task_id, countdown=600, queue=worker.queue)
    wait_for(lambda: task_id in worker.log(), what="the worker to receive the task")
    move_back(job, settings.OPSDASH_STALE_JOB_GRACE + timedelta(seconds=1))
    assert stale_jobs.end_stale_jobs() == []
    assert JobRun.objects.get(pk=job.pk).state == JobState.QUEUED

    worker.kill()
    assert stale_jobs.end_stale_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "is in no queue and held by no worker" in job.error
