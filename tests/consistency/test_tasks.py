"""
The Celery tasks on a real worker: a `celery worker` subprocess on the local Redis,
connected to the pytest databases, running the jobs this test process queues.
"""

import psycopg
import pytest
from django.db import connections

from consistency.engine.checks import states_for_ids
from consistency.jobs import service as jobs
from consistency.models import ChunkState, JobRun, JobState, MetricSnapshot
from tests.factories import make_therapist
from tests.worker import database_url, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(databases=["default", "platform"], transaction=True)]

FINISHED = [JobState.SUCCEEDED, JobState.FAILED, JobState.PARTIALLY_FAILED, JobState.CANCELLED]


def finished(job):
    return wait_for(lambda: JobRun.objects.filter(pk=job.pk, state__in=FINISHED).first(), what=f"{job} to finish")


def users_by_id(users):
    return sorted(users, key=lambda user: str(user.id))


class RowLock:
    """Hold a row of users locked from another connection, as a long platform transaction would."""

    def __init__(self, user_id):
        self.connection = psycopg.connect(database_url("platform").replace("postgres://", "postgresql://"))
        self.connection.execute("select 1 from users where id = %s for update", [user_id])

    def release(self):
        self.connection.rollback()
        self.connection.close()


def test_a_resync_runs_on_a_worker(start_worker, alice):
    start_worker()
    user, _, profile = make_therapist(email="Resync.Me@example.com", profile={"bio": "Stale."})
    job = finished(jobs.start_resync(alice, "resync.me@example.com"))
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.rows_changed["therapist_profiles"]["bio"] == 1
    profile.refresh_from_db()
    assert profile.bio == "Helps with anxiety."
    assert [e.state for e in job.events.all()] == ["queued", "running", "succeeded"]


def test_a_repair_all_is_shared_out_in_chunks(start_worker, alice, name_drifts):
    start_worker(pool="prefork", concurrency=2, chunk_size=2)
    job = finished(jobs.start_repair_all(alice))
    assert job.state == JobState.SUCCEEDED, job.error
    assert (job.progress_done, job.progress_total) == (4, 4)
    assert (job.therapists_total, job.therapists_changed) == (7, 7)
    assert job.rows_changed["users"]["full_name"] == 7
    assert job.metrics_after["consistent"] == 7
    assert MetricSnapshot.objects.filter(job=job).exists()
    assert [c.state for c in job.chunks.all()] == [ChunkState.DONE] * 4
    assert all(state.consistent for state in states_for_ids([u.id for u in name_drifts]))


def test_a_second_repair_all_is_refused_while_the_first_runs(start_worker, alice, bob, name_drifts):
    start_worker()
    lock = RowLock(users_by_id(name_drifts)[0].id)
    try:
        first = jobs.start_repair_all(alice)
        wait_for(lambda: first.chunks.filter(index=0, state=ChunkState.RUNNING).exists(), what="the first chunk")
        with pytest.raises(jobs.JobAlreadyRunning, match=f"#{first.pk} is already running"):
            jobs.start_repair_all(bob)
    finally:
        lock.release()
    assert finished(first).state == JobState.SUCCEEDED
    assert JobRun.objects.count() == 1
    assert finished(jobs.start_repair_all(bob)).state == JobState.SUCCEEDED


def test_a_cancelled_repair_all_stops_after_the_chunk_in_hand(start_worker, alice, name_drifts):
    start_worker()
    users = users_by_id(name_drifts)
    # The chunk of therapists 3 and 4 waits on this lock while the cancel comes in.
    lock = RowLock(users[2].id)
    try:
        job = jobs.start_repair_all(alice)
        wait_for(lambda: job.chunks.filter(index=1, state=ChunkState.RUNNING).exists(), what="the second chunk")
        assert jobs.request_cancel(job, alice)
    finally:
        lock.release()
    job = finished(job)
    assert job.state == JobState.CANCELLED
    assert [c.state for c in job.chunks.all()] == [
        ChunkState.DONE,
        ChunkState.DONE,
        ChunkState.SKIPPED,
        ChunkState.SKIPPED,
    ]
    consistent = [state.consistent for state in states_for_ids([u.id for u in users])]
    assert consistent == [True] * 4 + [False] * 3
    assert (job.progress_done, job.therapists_changed) == (2, 4)


def test_a_chunk_whose_connection_drops_is_retried(start_worker, alice, name_drifts):
    start_worker()
    lock = RowLock(users_by_id(name_drifts)[0].id)
    try:
        job = jobs.start_repair_all(alice)
        # The first chunk waits on the lock; cut its database connection, as a
        # restarting database or a network failure would.
        waiting = wait_for(lambda: _backend_waiting_on_a_lock(), what="the chunk to wait on the lock")
        with connections["platform"].cursor() as cursor:
            cursor.execute("select pg_terminate_backend(%s)", [waiting])
    finally:
        lock.release()
    job = finished(job)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.chunks.get(index=0).attempts == 2
    assert job.therapists_changed == 7


def _backend_waiting_on_a_lock():
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
        return row[0] if row else None
