"""Starting, refusing, cancelling and previewing jobs (consistency.jobs.service), with the real Redis."""

import threading
from uuid import uuid4

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.utils import timezone

from consistency.jobs import service as jobs
from consistency.models import AuditEntry, ChunkState, JobChunk, JobKind, JobRun, JobState, TherapistProfile
from interventions.log import log_intervention
from interventions.models import Intervention
from opsdash.celery import app
from tests.consistency.conftest import queue_length
from tests.factories import make_therapist
from tests.helpers import platform_contents

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def test_starting_a_repair_all_queues_a_job_and_audits_it(alice, task_queue):
    job = jobs.start_repair_all(alice)
    assert (job.kind, job.state, job.requested_by, job.dry_run) == (JobKind.REPAIR_ALL, JobState.QUEUED, alice, False)
    assert job.celery_task_id
    assert queue_length(task_queue) == 1
    assert [e.state for e in job.events.all()] == [JobState.QUEUED]
    audit = AuditEntry.objects.get(job=job)
    assert (audit.actor, audit.action, audit.target) == (alice, "repair_all", "all")


def test_a_second_repair_all_is_refused_while_one_is_queued(alice, bob, task_queue):
    first = jobs.start_repair_all(alice)
    with pytest.raises(jobs.JobAlreadyRunning) as refused:
        jobs.start_repair_all(bob)
    assert f"#{first.pk}" in str(refused.value) and "alice" in str(refused.value)
    assert refused.value.job == first
    assert JobRun.objects.count() == 1
    assert queue_length(task_queue) == 1


@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_two_requests_at_the_same_moment_start_one_repair_all(alice, bob, committed_platform):
    barrier = threading.Barrier(2)
    outcomes = []

    def click(user):
        barrier.wait()
        try:
            outcomes.append(jobs.start_repair_all(user, queue=False))
        except jobs.JobError as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click, args=(user,)) for user in (alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(type(o).__name__ for o in outcomes) == ["JobAlreadyRunning", "JobRun"]
    assert JobRun.objects.count() == 1


def test_a_dry_run_may_start_beside_a_running_repair_all(alice, task_queue):
    jobs.start_repair_all(alice)
    dry = jobs.start_repair_all(alice, dry_run=True)
    assert dry.dry_run and dry.state == JobState.QUEUED


def test_a_repair_all_may_start_again_once_the_last_one_finished(alice, task_queue):
    first = jobs.start_repair_all(alice)
    JobRun.objects.filter(pk=first.pk).update(state=JobState.SUCCEEDED)
    assert jobs.start_repair_all(alice).pk != first.pk


def test_redis_down_fails_the_job_with_a_clear_error_and_loses_nothing(alice, task_queue, monkeypatch):
    # Nothing listens on port 1: the broker is down as far as publishing goes.
    monkeypatch.setattr(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    with pytest.raises(jobs.QueueUnavailable) as refused:
        jobs.start_repair_all(alice)
    assert "task queue" in str(refused.value) and "unavailable" in str(refused.value)
    job = JobRun.objects.get()
    assert job.state == JobState.FAILED and "unavailable" in job.error
    assert job.finished_at is not None
    monkeypatch.undo()
    # The failed job does not block the next one.
    assert jobs.start_repair_all(alice).state == JobState.QUEUED


def test_a_resync_is_queued_for_the_normalised_email(alice, task_queue):
    make_therapist(email="Ada.Lovelace@Example.com")
    job = jobs.start_resync(alice, "  ada.lovelace@example.COM ")
    assert (job.kind, job.target, job.state) == (JobKind.RESYNC, "ada.lovelace@example.com", JobState.QUEUED)
    assert queue_length(task_queue) == 1
    assert AuditEntry.objects.get(job=job).action == "resync"


@pytest.mark.parametrize("email", ["", "not-an-email", "two@@example.com", "a@b@c"])
def test_a_resync_refuses_a_malformed_email(alice, email):
    with pytest.raises(jobs.InvalidEmail, match="not a valid email address"):
        jobs.start_resync(alice, email)
    assert not JobRun.objects.exists()


def test_a_resync_refuses_an_email_no_therapist_has(alice):
    make_therapist(email="someone@example.com", user={"user_type": "individual"})
    with pytest.raises(jobs.UnknownTherapist, match="No therapist has the email someone@example.com"):
        jobs.start_resync(alice, "someone@example.com")
    assert not JobRun.objects.exists()


def test_only_the_operator_who_started_it_or_a_superuser_may_cancel(alice, bob, root, task_queue):
    job = jobs.start_repair_all(alice)
    JobRun.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    # A chunk in hand: the cancel is asked for, and the job stops after it.
    JobChunk.objects.create(
        job=job, index=0, after=uuid4(), upto=uuid4(), state=ChunkState.RUNNING, started_at=timezone.now()
    )
    with pytest.raises(PermissionDenied):
        jobs.request_cancel(job, bob)
    assert jobs.request_cancel(job, root) is True
    job.refresh_from_db()
    assert job.cancel_requested and job.state == JobState.RUNNING
    assert AuditEntry.objects.filter(job=job, action="cancel", actor=root).exists()


def test_cancelling_a_queued_job_cancels_it_at_once(alice, task_queue):
    job = jobs.start_repair_all(alice)
    assert jobs.request_cancel(job, alice) is True
    assert job.state == JobState.CANCELLED and job.finished_at
    # A job no worker picked up does not block the next repair-all.
    assert jobs.start_repair_all(alice).state == JobState.QUEUED


def test_cancelling_a_finished_job_does_nothing(alice, task_queue):
    job = jobs.start_repair_all(alice)
    JobRun.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    assert jobs.request_cancel(job, alice) is False
    assert not job.cancel_requested


def test_a_resync_preview_writes_nothing():
    make_therapist(email="preview@example.com", profile={"bio": "Stale."})
    before = platform_contents()
    assert jobs.resync_preview("Preview@Example.com") == [
        {"table": "therapist_profiles", "column": "bio", "before": "Stale.", "after": "Helps with anxiety."}
    ]
    assert platform_contents() == before


@pytest.fixture
def therapist_without_profile():
    """An approved therapist with an image on the user only and a qualification on the enrollment."""
    user, enrollment, _ = make_therapist(
        email="noprofile@example.com",
        user={"avatar_url": "https://cdn/u.jpg"},
        enrollment={"specializations": None, "specialization": "Grief; CBT", "experience_years": 0},
        profile=False,
    )
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "update therapist_enrollments set licensed_qualification = 'MSc Clinical Psychology' where id = %s",
            [enrollment.id],
        )
    log_intervention("missing-profile", "noprofile@example.com", "booking fails")
    return user


def test_the_missing_profile_preview_shows_the_canonical_values(therapist_without_profile):
    before = platform_contents()
    values = jobs.create_missing_profile_preview("NoProfile@example.com")
    assert platform_contents() == before
    assert values == {
        "user_id": therapist_without_profile.id,
        "licensed_qualification": "MSc Clinical Psychology",
        "bio": "Helps with anxiety.",
        "experience_years": 0,
        "specializations": ["Grief", "CBT"],
        "profile_image_url": "https://cdn/u.jpg",
        "verification_status": "approved",
        "is_verified": True,
    }


def test_creating_the_missing_profile_resolves_its_intervention(alice, therapist_without_profile):
    profile_id = jobs.create_missing_profile(alice, "noprofile@example.com")
    profile = TherapistProfile.objects.get(pk=profile_id)
    assert (profile.user_id, profile.profile_image_url) == (therapist_without_profile.id, "https://cdn/u.jpg")
    intervention = Intervention.objects.get(operation="missing-profile")
    assert (intervention.resolved, intervention.resolved_by) == (True, "alice")
    assert AuditEntry.objects.filter(action="create_profile", actor=alice, target="noprofile@example.com").exists()


def test_a_missing_profile_needs_a_qualification(alice, therapist_without_profile):
    with connections["platform"].cursor() as cursor:
        cursor.execute("update therapist_enrollments set licensed_qualification = null")
    with pytest.raises(jobs.MissingProfileError, match="licensed qualification"):
        jobs.create_missing_profile(alice, "noprofile@example.com")
    assert jobs.create_missing_profile(alice, "noprofile@example.com", licensed_qualification="MBBS")


def test_a_therapist_with_a_profile_gets_no_second_one(alice):
    make_therapist(email="complete@example.com")
    with pytest.raises(jobs.MissingProfileError, match="has a profile"):
        jobs.create_missing_profile(alice, "complete@example.com")
