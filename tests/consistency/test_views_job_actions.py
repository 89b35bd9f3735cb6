"""Starting, confirming and cancelling jobs from the pages; resync and create-profile from the therapist page."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consistency.jobs import stale as stale_jobs
from consistency.models import AuditEntry, JobChunk, JobKind, JobRun, TherapistProfile
from consistency.reporting.results import refresh_results
from tests.factories import make_therapist
from tests.helpers import repair_all_job

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def bio_drift():
    user, _, _ = make_therapist("anna@example.com", profile={"bio": "Old bio"})
    refresh_results()
    return user


def test_repair_all_starts_with_a_dry_run(operator_client, isolated_queue):
    response = operator_client.post(reverse("consistency:repair_all_preview"))
    job = JobRun.objects.get()
    assert (job.kind, job.dry_run, job.requested_by.username) == (JobKind.REPAIR_ALL, True, "olivia")
    assert response["Location"] == reverse("consistency:job", args=[job.pk])
    assert isolated_queue.queued() == 1


def test_finished_dry_run_offers_the_real_run(operator_client, olivia):
    for n in range(40):
        make_therapist(profile={"bio": "Stale."} if n < 12 else None)
    job = repair_all_job(olivia, dry_run=True)
    assert (job.state, job.therapists_total, job.therapists_changed) == ("succeeded", 40, 12)
    html = operator_client.get(reverse("consistency:job", args=[job.pk])).content.decode()
    assert ">Run repair-all now</button>" in html and "rows of 12 therapists" in html


def test_real_run_needs_the_confirmation(operator_client, isolated_queue):
    operator_client.post(reverse("consistency:repair_all"))
    assert not JobRun.objects.exists()


def test_double_click_starts_one_repair_all(operator_client, isolated_queue):
    first = operator_client.post(reverse("consistency:repair_all"), {"confirmed": "yes"})
    second = operator_client.post(reverse("consistency:repair_all"), {"confirmed": "yes"}, follow=True)
    job = JobRun.objects.get(dry_run=False)
    assert first["Location"] == reverse("consistency:job", args=[job.pk])
    assert "is already queued" in second.content.decode()
    assert isolated_queue.queued() == 1


def test_starter_cancels_a_running_job(operator_client, olivia):
    job = repair_all_job(olivia, chunks=0)
    assert job.state == "running"
    html = operator_client.get(reverse("consistency:job", args=[job.pk])).content.decode()
    assert ">Cancel job</button>" in html
    operator_client.post(reverse("consistency:cancel_job", args=[job.pk]))
    job.refresh_from_db()
    assert job.cancel_requested
    assert AuditEntry.objects.filter(action="cancel", job=job).exists()


def test_another_operator_may_not_cancel(client, olivia, django_user_model):
    from tests.conftest import role

    other = django_user_model.objects.create_user("otto", password="otto-password-1")
    other.groups.add(role("Operators"))
    job = repair_all_job(olivia, chunks=0)
    client.force_login(other)
    assert ">Cancel job</button>" not in client.get(reverse("consistency:job", args=[job.pk])).content.decode()
    assert client.post(reverse("consistency:cancel_job", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert not job.cancel_requested


@pytest.fixture
def stale_repair(olivia):
    """Olivia's repair-all whose chunk 0 has run past its time limit: its worker was lost."""
    job = JobRun.objects.create(
        kind=JobKind.REPAIR_ALL, state="running", requested_by=olivia, started_at=timezone.now()
    )
    long_ago = timezone.now() - stale_jobs.time_limit(stale_jobs.CHUNK_TASK) - timedelta(minutes=5)
    JobChunk.objects.create(
        job=job, index=0, after=uuid.UUID(int=0), upto=uuid.UUID(int=1), state="running", started_at=long_ago
    )
    JobChunk.objects.create(job=job, index=1, after=uuid.UUID(int=1), upto=uuid.UUID(int=2))
    return job


def test_jobs_page_shows_a_stale_job_and_another_operator_ends_it(client, stale_repair, django_user_model):
    from tests.conftest import role

    other = django_user_model.objects.create_user("otto", password="otto-password-1")
    other.groups.add(role("Operators"))
    client.force_login(other)
    html = client.get(reverse("consistency:jobs")).content.decode()
    assert ">stale</span>" in html and "Chunk 0 has been running since" in html
    assert ">End stale job</button>" in html
    response = client.post(reverse("consistency:end_stale_job", args=[stale_repair.pk]), follow=True)
    assert "was ended as failed; a new one may start." in response.content.decode()
    stale_repair.refresh_from_db()
    assert stale_repair.state == "failed"
    assert stale_repair.events.last().message.startswith("Ended by otto as stale: chunk 0 has been running since")
    assert [c.state for c in stale_repair.chunks.all()] == ["failed", "skipped"]
    assert AuditEntry.objects.filter(action="cancel", job=stale_repair, actor=other).exists()


def test_a_viewer_sees_a_job_is_stale_but_no_button(viewer_client, stale_repair):
    html = viewer_client.get(reverse("consistency:job", args=[stale_repair.pk])).content.decode()
    assert ">stale</span>" in html and "No worker will finish this job" in html
    assert "End stale job" not in html


def test_a_job_that_may_still_progress_is_not_ended_as_stale(operator_client, olivia):
    job = JobRun.objects.create(
        kind=JobKind.REPAIR_ALL, state="running", requested_by=olivia, started_at=timezone.now()
    )
    JobChunk.objects.create(
        job=job, index=0, after=uuid.UUID(int=0), upto=uuid.UUID(int=1), state="running", started_at=timezone.now()
    )
    assert "End stale job" not in operator_client.get(reverse("consistency:jobs")).content.decode()
    response = operator_client.post(reverse("consistency:end_stale_job", args=[job.pk]), follow=True)
    assert "is not stale: it may still progress. Cancel it instead." in response.content.decode()
    job.refresh_from_db()
    assert job.state == "running"


def test_resync_from_a_drilldown_row_answers_with_the_row_following_its_job(operator_client, bio_drift, isolated_queue):
    response = operator_client.post(
        reverse("consistency:resync"),
        {"email": "anna@example.com", "problem": "bio", "row": str(bio_drift.id)},
        headers={"HX-Request": "true"},
    )
    job = JobRun.objects.get()
    html = response.content.decode()
    assert (job.kind, job.target) == (JobKind.RESYNC, "anna@example.com")
    assert f"?job={job.pk}" in html and 'hx-trigger="every 1s"' in html and "<html" not in html


def test_resync_of_an_unknown_email_says_so_in_the_row(operator_client, bio_drift, isolated_queue):
    response = operator_client.post(
        reverse("consistency:resync"),
        {"email": "nobody@example.com", "problem": "bio", "row": str(bio_drift.id)},
        headers={"HX-Request": "true"},
    )
    assert "not resynced" in response.content.decode() and "No therapist has the email" in response.content.decode()
    assert not JobRun.objects.exists()


def test_therapist_page_marks_what_a_resync_would_write(operator_client, bio_drift):
    response = operator_client.get(reverse("consistency:therapist") + "?email=anna@example.com")
    [item] = response.context["found"]
    bio = next(row for row in item["matrix"] if row.field.name == "bio")
    assert bio.cells[2].disagrees and bio.cells[2].becomes == "Helps with anxiety."
    assert response.context["preview"] == [
        {"table": "therapist_profiles", "column": "bio", "before": "Old bio", "after": "Helps with anxiety."}
    ]


def test_create_profile_shows_a_preview_then_creates_it(operator_client):
    user, _, _ = make_therapist("noprofile@example.com", profile=False)
    page = operator_client.get(reverse("consistency:therapist") + "?email=noprofile@example.com")
    [item] = page.context["found"]
    assert item["profile_preview"]["bio"] == "Helps with anxiety."
    operator_client.post(
        reverse("consistency:create_profile"), {"email": "noprofile@example.com", "licensed_qualification": "MSc"}
    )
    assert TherapistProfile.objects.get(user=user).bio == "Helps with anxiety."
    assert AuditEntry.objects.filter(action="create_profile", target="noprofile@example.com").exists()


def test_refresh_now_queues_a_snapshot(operator_client, isolated_queue):
    response = operator_client.post(reverse("consistency:refresh_snapshot"), follow=True)
    assert "A new snapshot is on its way" in response.content.decode()
    assert isolated_queue.queued() == 1
