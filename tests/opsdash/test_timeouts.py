"""The statement and lock timeouts: short in web requests, longer in the worker and the commands."""

import pytest
from django.db import connections

from consistency.jobs import service as jobs
from consistency.models import JobRun, JobState
from opsdash.timeouts import use_job_timeouts
from tests.consistency.test_tasks import RowLock
from tests.factories import make_therapist
from tests.worker import wait_for


def timeouts(alias):
    with connections[alias].cursor() as cursor:
        cursor.execute("select current_setting('statement_timeout'), current_setting('lock_timeout')")
        return cursor.fetchone()


@pytest.mark.django_db(databases=["default", "platform"])
def test_web_requests_get_the_short_statement_timeout_on_both_databases():
    assert timeouts("default") == ("15s", "0")
    assert timeouts("platform") == ("15s", "0")


@pytest.mark.django_db(databases=["default", "platform"])
def test_jobs_get_the_long_statement_timeout_and_the_lock_timeout():
    use_job_timeouts()
    assert timeouts("platform") == ("25min", "10s")
    assert (
        connections["platform"].settings_dict["OPTIONS"]["options"]
        == "-c statement_timeout=1500000 -c lock_timeout=10000"
    )


@pytest.mark.worker
@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_a_resync_behind_a_platform_lock_gives_up_after_the_lock_timeout_and_is_retried(
    start_worker, olivia, monkeypatch
):
    monkeypatch.setenv("OPSDASH_JOB_LOCK_TIMEOUT", "1")
    worker = start_worker()
    # The user row is written (its name), and another transaction holds it.
    user, _, _ = make_therapist(
        "locked@example.com", user={"full_name": "Nick"}, enrollment={"full_name": "Legal Name"}
    )
    lock = RowLock(user.id)
    try:
        job = jobs.start_resync(olivia, "locked@example.com")
        wait_for(lambda: "lock timeout" in worker.log(), timeout=60, what="the resync to give up on the lock")
    finally:
        lock.release()
    job = wait_for(
        lambda: JobRun.objects.filter(pk=job.pk, state__in=[JobState.SUCCEEDED, JobState.FAILED]).first(),
        timeout=120,
        what="the retry",
    )
    assert job.state == JobState.SUCCEEDED, job.error
