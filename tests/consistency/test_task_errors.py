"""
How the job tasks meet errors (consistency.jobs.handling): run in this process with
Celery's apply(), the runner's step replaced by one that fails; what the operator reads
is read back from the database by SQL and from the job's page.
"""

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError, connection
from django.urls import reverse

from consistency import tasks
from consistency.jobs import runner
from consistency.jobs import service as jobs
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def stored_job(job):
    with connection.cursor() as cursor:
        cursor.execute("select state, error from consistency_jobrun where id = %s", [job.pk])
        return cursor.fetchone()


def stored_chunks(job):
    with connection.cursor() as cursor:
        cursor.execute("select index, state, error from consistency_jobchunk where job_id = %s order by 1", [job.pk])
        return cursor.fetchall()


def failing(exc):
    def step(*args):
        raise exc

    return step


@pytest.fixture
def begun_repair_all(alice):
    """A repair-all begun as a worker begins it: two therapists, one chunk each."""
    make_therapist(user={"full_name": "Nick 1"}, enrollment={"full_name": "Legal 1"})
    make_therapist(user={"full_name": "Nick 2"}, enrollment={"full_name": "Legal 2"})
    job = jobs.start_repair_all(alice, queue=False)
    assert runner.begin_repair_all(job.pk) == [0]
    return job


def test_a_resync_past_its_time_limit_fails_with_that_reason_on_its_page(monkeypatch, alice, viewer_client):
    make_therapist(email="late@example.com")
    job = jobs.start_resync(alice, "late@example.com", queue=False)
    monkeypatch.setattr(runner, "run_resync", failing(SoftTimeLimitExceeded()))
    result = tasks.resync_therapist.apply(args=(job.pk,))
    assert result.successful()
    reason = "The resync took longer than its time limit and was rolled back"
    assert stored_job(job) == ("failed", reason)
    assert reason in viewer_client.get(reverse("consistency:job", args=[job.pk])).content.decode()


def test_a_repair_all_that_cannot_start_in_time_fails_and_queues_nothing(monkeypatch, alice, task_queue):
    job = jobs.start_repair_all(alice, queue=False)
    monkeypatch.setattr(runner, "begin_repair_all", failing(SoftTimeLimitExceeded()))
    assert tasks.repair_all.apply(args=(job.pk,)).successful()
    assert stored_job(job) == ("failed", "Starting the job took longer than its time limit")
    assert stored_chunks(job) == []


def test_an_unexpected_error_fails_the_job_and_is_raised_for_celery_to_log(monkeypatch, alice):
    make_therapist(email="broken@example.com")
    job = jobs.start_resync(alice, "broken@example.com", queue=False)
    monkeypatch.setattr(runner, "run_resync", failing(KeyError("therapist_profiles")))
    result = tasks.resync_therapist.apply(args=(job.pk,))
    assert result.failed() and isinstance(result.result, KeyError)
    assert stored_job(job) == ("failed", "KeyError: 'therapist_profiles'")


def test_closing_a_repair_all_that_fails_names_the_step_even_past_its_time_limit(monkeypatch, begun_repair_all):
    monkeypatch.setattr(runner, "finish_repair_all", failing(SoftTimeLimitExceeded("soft limit")))
    result = tasks.finish_repair_all.apply(args=(begun_repair_all.pk,))
    assert result.failed()
    state, error = stored_job(begun_repair_all)
    assert state == "failed"
    assert error.startswith("Closing the job failed: SoftTimeLimitExceeded: ") and "soft limit" in error


def test_a_chunk_past_its_time_limit_is_recorded_failed_without_raising(monkeypatch, begun_repair_all):
    monkeypatch.setattr(runner, "run_chunk", failing(SoftTimeLimitExceeded()))
    assert tasks.repair_chunk.apply(args=(begun_repair_all.pk, 0)).successful()
    assert stored_chunks(begun_repair_all) == [
        (0, "failed", "The chunk took longer than its time limit and was rolled back")
    ]
    assert stored_job(begun_repair_all)[0] == "running"


def test_a_chunk_with_an_unexpected_error_is_recorded_failed_and_logged(monkeypatch, caplog, begun_repair_all):
    monkeypatch.setattr(runner, "run_chunk", failing(ValueError("bad bound")))
    assert tasks.repair_chunk.apply(args=(begun_repair_all.pk, 0)).successful()
    assert stored_chunks(begun_repair_all) == [(0, "failed", "ValueError: bad bound")]
    assert any(record.exc_info and "consistency.tasks.repair_chunk" in record.message for record in caplog.records)


def test_a_chunk_that_keeps_losing_its_connection_gives_up_after_its_retries(monkeypatch, settings, begun_repair_all):
    attempts = []

    def drop_connection(*args):
        attempts.append(args)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(runner, "run_chunk", drop_connection)
    tasks.repair_chunk.apply(args=(begun_repair_all.pk, 0))
    retries = settings.CELERY_TASK_ANNOTATIONS["*"]["max_retries"]
    assert len(attempts) == retries + 1
    assert stored_chunks(begun_repair_all) == [
        (0, "failed", f"Gave up after {retries} retries: server closed the connection unexpectedly")
    ]


def test_a_chunk_whose_connection_comes_back_is_done_on_its_retry(monkeypatch, begun_repair_all):
    real_run_chunk = runner.run_chunk
    attempts = []

    def drop_connection_once(job_id, index):
        attempts.append(index)
        if len(attempts) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        real_run_chunk(job_id, index)

    monkeypatch.setattr(runner, "run_chunk", drop_connection_once)
    tasks.repair_chunk.apply(args=(begun_repair_all.pk, 0))
    assert attempts == [0, 0]
    assert stored_chunks(begun_repair_all) == [(0, "done", "")]
