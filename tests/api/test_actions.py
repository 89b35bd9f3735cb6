"""The API's two actions: operators start a resync by email and a repair-all dry run, as the pages do."""

import pytest

from consistency.models import AuditEntry, JobKind, JobRun, JobState
from tests.factories import make_therapist
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def test_a_viewer_may_not_start_a_resync(viewer_api, isolated_queue):
    make_therapist(email="someone@example.com")
    response = viewer_api.post("/api/jobs/resync/", {"email": "someone@example.com"}, format="json")
    assert response.status_code == 403
    assert "run_jobs" in response.json()["detail"]
    assert not JobRun.objects.exists()
    assert isolated_queue.queued() == 0


def test_an_operator_starts_a_resync_by_email(operator_api, isolated_queue):
    make_therapist(email="Someone@Example.com")
    response = operator_api.post("/api/jobs/resync/", {"email": "SOMEONE@example.com "}, format="json")
    assert response.status_code == 202
    job = JobRun.objects.get(pk=response.json()["id"])
    assert (job.kind, job.target, job.requested_by.username) == (JobKind.RESYNC, "someone@example.com", "olivia")
    assert isolated_queue.queued() == 1
    assert AuditEntry.objects.filter(job=job, actor_name="olivia", action="resync").exists()


def test_a_bad_email_is_refused_with_the_reason_and_nothing_queued(operator_api, isolated_queue):
    response = operator_api.post("/api/jobs/resync/", {"email": "not an email"}, format="json")
    assert response.status_code == 400
    assert "is not a valid email address" in response.json()["detail"]
    response = operator_api.post("/api/jobs/resync/", {}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()
    assert isolated_queue.queued() == 0


def test_an_operator_starts_a_repair_all_dry_run(operator_api, isolated_queue):
    response = operator_api.post("/api/jobs/repair-all-dry-run/")
    assert response.status_code == 202
    job = JobRun.objects.get(pk=response.json()["id"])
    assert (job.kind, job.dry_run, job.state) == (JobKind.REPAIR_ALL, True, JobState.QUEUED)
    assert isolated_queue.queued() == 1


@pytest.mark.worker
def test_a_resync_started_through_the_api_runs_on_a_worker(start_worker, operator_api):
    start_worker()
    _, _, profile = make_therapist(email="api@example.com", profile={"bio": "Stale."})
    job_id = operator_api.post("/api/jobs/resync/", {"email": "api@example.com"}, format="json").json()["id"]
    report = wait_for(
        lambda: (r := operator_api.get(f"/api/jobs/{job_id}/").json())["state"] in ("succeeded", "failed") and r,
        what="the resync to finish",
    )
    assert report["state"] == "succeeded", report["error"]
    changed = [c for c in report["changed_columns"] if c["rows"]]
    assert changed == [{"table": "therapist_profiles", "column": "bio", "rows": 1}]
    profile.refresh_from_db()
    assert profile.bio == "Helps with anxiety."
