"""
Stale jobs (consistency.jobs.stale): the rules, run in this process against the real
databases and the real Redis. A job's timestamps are moved back to stand for the time
that passed; tests/consistency/test_stale_jobs_on_a_worker.py kills real workers.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from consistency import tasks
from consistency.jobs import runner
from consistency.jobs import service as jobs
from consistency.jobs import stale as stale_jobs
from consistency.models import ChunkState, JobChunk, JobKind, JobRun, JobState
from opsdash.celery import app
from tests.factories import make_therapist
from tests.helpers import move_back
from tests.worker import delete_queue, forget_broker_connections

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def five_name_drifts(settings):
    """Five therapists whose user name differs from the enrollment's, in chunks of two."""
    settings.OPSDASH_REPAIR_CHUNK_SIZE = 2
    return [
        make_therapist(user={"full_name": f"Nick {n}"}, enrollment={"full_name": f"Legal {n}"})[0] for n in range(5)
    ]


def chunk_limit():
    """How long a chunk may go without progress before its job is stale."""
    return stale_jobs.time_limit(stale_jobs.CHUNK_TASK) + settings.OPSDASH_STALE_JOB_GRACE


def running_repair_all(user):
    """A repair-all that ran its first chunk; its second is claimed (running), the third pending."""
    job = jobs.start_repair_all(user, queue=False)
    runner.begin_repair_all(job.pk)
    runner.run_chunk(job.pk, 0)
    JobChunk.objects.filter(job=job, index=1).update(state=ChunkState.RUNNING, started_at=timezone.now())
    job.refresh_from_db()
    return job


def test_a_chunk_running_longer_than_its_time_limit_ends_its_job_as_failed(alice, bob, five_name_drifts):
    job = running_repair_all(alice)
    move_back(job, chunk_limit() + timedelta(seconds=1))
    assert stale_jobs.end_stale_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.finished_at
    assert "Stale: chunk 1 has been running since" in job.events.last().message
    assert "its worker was lost" in job.error
    assert [c.state for c in job.chunks.all()] == [ChunkState.DONE, ChunkState.FAILED, ChunkState.SKIPPED]
    # The job no longer blocks the next repair-all.
    assert jobs.start_repair_all(bob, queue=False).state == JobState.QUEUED


def test_a_chunk_within_its_time_limit_is_in_hand_and_not_stale(alice, five_name_drifts):
    job = running_repair_all(alice)
    move_back(job, chunk_limit() - timedelta(seconds=30))
    assert stale_jobs.stale_reason(job) is None
    assert stale_jobs.end_stale_jobs() == []
    assert JobRun.objects.get(pk=job.pk).state == JobState.RUNNING


def test_a_repair_all_whose_chunk_tasks_were_lost_is_stale_once_nothing_progressed_for_a_chunks_time_limit(
    alice, five_name_drifts
):
    job = jobs.start_repair_all(alice, queue=False)
    runner.begin_repair_all(job.pk)
    runner.run_chunk(job.pk, 0)
    job.refresh_from_db()
    # Chunks 1 and 2 wait for tasks that Redis lost: nothing runs.
    move_back(job, chunk_limit() - timedelta(seconds=30))
    assert stale_jobs.stale_reason(job) is None
    move_back(job, timedelta(seconds=31))
    reason = stale_jobs.stale_reason(job)
    assert "nothing has progressed since" in reason and "1 of 3 chunks done" in reason
    assert stale_jobs.end_stale_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert [c.state for c in job.chunks.all()] == [ChunkState.DONE, ChunkState.SKIPPED, ChunkState.SKIPPED]


def test_a_repair_all_lost_while_starting_is_stale_after_the_starting_tasks_time_limit(alice, five_name_drifts):
    job = jobs.start_repair_all(alice, queue=False)
    runner.transition(job.pk, JobState.RUNNING, "Started", started_at=timezone.now())
    job.refresh_from_db()
    start_limit = stale_jobs.time_limit(stale_jobs.START_TASK) + settings.OPSDASH_STALE_JOB_GRACE
    move_back(job, chunk_limit() + timedelta(minutes=1))
    assert stale_jobs.stale_reason(job) is None  # computing the metrics before may take that long
    move_back(job, start_limit)
    assert "(starting, 0 of 0 chunks done)" in stale_jobs.stale_reason(job)


def test_a_resync_running_longer_than_its_time_limit_is_stale(alice):
    make_therapist(email="lost@example.com")
    job = jobs.start_resync(alice, "lost@example.com", queue=False)
    runner.transition(job.pk, JobState.RUNNING, "Started", started_at=timezone.now())
    job.refresh_from_db()
    assert stale_jobs.stale_reason(job) is None
    move_back(
        job, stale_jobs.time_limit(stale_jobs.RESYNC_TASK) + settings.OPSDASH_STALE_JOB_GRACE + timedelta(seconds=1)
    )
    assert "its worker was lost" in stale_jobs.stale_reason(job)


def test_a_queued_job_whose_task_waits_in_the_queue_is_left_alone(alice, task_queue):
    job = jobs.start_repair_all(alice)
    move_back(job, timedelta(hours=1))  # no worker for an hour: late, not lost
    assert stale_jobs.end_stale_jobs() == []
    assert JobRun.objects.get(pk=job.pk).state == JobState.QUEUED


def test_a_queued_job_whose_task_redis_lost_is_ended_with_the_reason(alice, bob, task_queue, settings):
    settings.OPSDASH_WORKER_INSPECT_TIMEOUT = 0.5
    job = jobs.start_repair_all(alice)
    delete_queue(task_queue)  # as a Redis restarted without its data
    assert stale_jobs.end_stale_jobs() == []  # just queued: a worker may be taking it
    move_back(job, settings.OPSDASH_STALE_JOB_GRACE + timedelta(seconds=1))
    assert stale_jobs.end_stale_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert f"its task {job.celery_task_id} is in no queue and held by no worker" in job.events.last().message
    assert jobs.start_repair_all(bob).state == JobState.QUEUED


def test_cancel_ends_a_running_repair_all_whose_chunks_are_gone(alice, five_name_drifts):
    job = jobs.start_repair_all(alice, queue=False)
    runner.begin_repair_all(job.pk)
    runner.run_chunk(job.pk, 0)
    assert jobs.request_cancel(job, alice)
    assert job.state == JobState.CANCELLED and job.finished_at
    assert [c.state for c in job.chunks.all()] == [ChunkState.DONE, ChunkState.SKIPPED, ChunkState.SKIPPED]


def test_cancel_ends_a_stale_resync_but_only_asks_a_live_one(alice):
    make_therapist(email="lost@example.com")
    job = jobs.start_resync(alice, "lost@example.com", queue=False)
    runner.transition(job.pk, JobState.RUNNING, "Started", started_at=timezone.now())
    assert jobs.request_cancel(job, alice)
    assert (job.state, job.cancel_requested) == (JobState.RUNNING, True)
    move_back(job, stale_jobs.time_limit(stale_jobs.RESYNC_TASK) + timedelta(minutes=2))
    assert jobs.request_cancel(job, alice)
    assert job.state == JobState.CANCELLED
    assert "its worker was lost" in job.events.last().message


@pytest.fixture
def broker_refusing():
    """Point this process's task messages at a port where nothing listens, as a Redis that is down."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    saved = app.conf.broker_write_url
    app.conf.broker_write_url = f"redis://127.0.0.1:{port}/0"
    # Celery keeps its producers' connections in pools made for the old URL.
    forget_broker_connections(app)
    yield
    app.conf.broker_write_url = saved
    forget_broker_connections(app)


def test_a_broker_error_while_sending_the_chunks_fails_the_job(alice, bob, five_name_drifts, broker_refusing):
    job = jobs.start_repair_all(alice, queue=False)
    tasks.repair_all.apply(args=(job.pk,))
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error.startswith("Could not queue its chunks:")
    assert {c.state for c in job.chunks.all()} == {ChunkState.SKIPPED}
    assert jobs.start_repair_all(bob, queue=False).kind == JobKind.REPAIR_ALL


def test_a_chunk_claimed_before_the_end_is_left_to_finish(alice, five_name_drifts):
    job = running_repair_all(alice)
    assert runner.fail_job(job.pk, "The database went away") is None
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    # Chunk 1 is in hand: it commits or rolls back on its own, then adds its counts.
    assert [c.state for c in job.chunks.all()] == [ChunkState.DONE, ChunkState.RUNNING, ChunkState.SKIPPED]
    runner.run_chunk(job.pk, 2)  # its task, delivered late
    assert JobChunk.objects.get(job=job, index=2).therapists == 0


def test_beat_runs_the_stale_job_check_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["stale-jobs"]
    assert entry["task"] == tasks.end_stale_jobs.name
    assert entry["schedule"] == timedelta(minutes=1)
