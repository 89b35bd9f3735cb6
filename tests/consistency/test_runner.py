"""The steps of a job run (consistency.jobs.runner), run in this process against the real databases."""

import pytest
from django.db import connections

from consistency.engine.checks import compute_metrics, states_for_ids
from consistency.jobs import runner
from consistency.jobs import service as jobs
from consistency.models import ChunkState, JobRun, JobState, MetricSnapshot
from consistency.platform.seed import seed_platform
from interventions.log import log_interventions
from interventions.models import Intervention
from tests.factories import make_therapist
from tests.helpers import platform_contents

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def five_stale_profiles(settings):
    """Five therapists whose profile bio is stale, repaired in chunks of two."""
    settings.OPSDASH_REPAIR_CHUNK_SIZE = 2
    return [make_therapist(profile={"bio": f"Stale {n}."}) for n in range(5)]


def repair_all_job(user, dry_run=False):
    return jobs.start_repair_all(user, dry_run=dry_run, queue=False)


def test_a_repair_all_runs_chunk_by_chunk_and_records_its_totals(alice, five_stale_profiles):
    seen = []
    job = runner.run_repair_all(repair_all_job(alice).pk, progress=lambda j: seen.append(j.progress_done))
    assert job.state == JobState.SUCCEEDED
    assert seen == [1, 2, 3]
    assert (job.progress_done, job.progress_total, job.percent) == (3, 3, 100)
    assert (job.therapists_total, job.therapists_changed, job.therapists_failed) == (5, 5, 0)
    assert job.rows_changed["therapist_profiles"]["bio"] == 5
    assert job.rows_changed["users"]["full_name"] == 0
    assert (job.metrics_before["consistent"], job.metrics_after["consistent"]) == (0, 5)
    assert job.started_at and job.finished_at and job.duration
    assert MetricSnapshot.objects.get(job=job).consistent == 5
    assert [e.state for e in job.events.all()] == ["queued", "running", "running", "succeeded"]
    assert all(chunk.state == ChunkState.DONE for chunk in job.chunks.all())


def test_a_redelivered_chunk_adds_nothing_twice(alice, five_stale_profiles):
    job = repair_all_job(alice)
    indexes = runner.begin_repair_all(job.pk)
    assert runner.begin_repair_all(job.pk) == indexes  # a redelivered start cuts no new chunks
    runner.run_chunk(job.pk, 0)
    runner.run_chunk(job.pk, 0)
    job.refresh_from_db()
    assert (job.progress_done, job.therapists_total, job.rows_changed["therapist_profiles"]["bio"]) == (1, 2, 2)


def test_a_repair_all_cancelled_between_chunks_ends_at_once(alice, five_stale_profiles):
    users = [user for user, _, _ in five_stale_profiles]
    job = repair_all_job(alice)
    indexes = runner.begin_repair_all(job.pk)
    runner.run_chunk(job.pk, indexes[0])
    # No chunk is in hand: the job ends now, whether or not its chunk tasks still exist.
    assert jobs.request_cancel(job, alice)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.finished_at
    assert "while no chunk was running" in job.events.last().message
    # Chunk tasks delivered later find nothing to do, and the chord's close changes nothing.
    for index in indexes[1:]:
        runner.run_chunk(job.pk, index)
    runner.finish_repair_all(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert [c.state for c in job.chunks.all()] == [ChunkState.DONE, ChunkState.SKIPPED, ChunkState.SKIPPED]
    consistent = [state.consistent for state in states_for_ids([u.id for u in users])]
    assert consistent == [True, True, False, False, False]  # ids sort like the chunks


def test_a_failing_therapist_leaves_the_job_partially_failed(alice, five_stale_profiles):
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "alter table therapist_profiles add constraint no_old_bio check (bio is distinct from 'Helps with anxiety.')"
        )
        cursor.execute(
            "update therapist_enrollments set bio = 'Fine.' where email <> %s", [five_stale_profiles[0][0].email]
        )
    job = runner.run_repair_all(repair_all_job(alice).pk)
    assert job.state == JobState.PARTIALLY_FAILED
    assert (job.therapists_changed, job.therapists_failed, job.interventions_logged) == (4, 1, 1)
    assert Intervention.objects.get().entity_id == five_stale_profiles[0][0].email


def test_a_dry_run_job_writes_nothing_and_reports_what_would_change(alice, five_stale_profiles):
    make_therapist(profile=False)
    before = platform_contents()
    job = runner.run_repair_all(repair_all_job(alice, dry_run=True).pk)
    assert platform_contents() == before
    assert job.state == JobState.SUCCEEDED
    assert (job.therapists_total, job.therapists_changed) == (6, 5)
    assert job.rows_changed["therapist_profiles"]["bio"] == 5
    assert job.interventions_logged == 0 and job.metrics_after is None
    assert "5 would change" in job.events.last().message


def test_a_resync_repairs_one_therapist_and_resolves_its_interventions(alice, task_queue):
    user, _, profile = make_therapist(email="resync@example.com", profile={"bio": "Stale."})
    other, _, other_profile = make_therapist(profile={"bio": "Stale too."})
    Intervention.objects.create(operation="profile-sync", entity_id="resync@example.com", error="bio sync failed")
    job = jobs.start_resync(alice, "Resync@Example.com")
    runner.run_resync(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert (job.progress_done, job.progress_total, job.therapists_changed) == (1, 1, 1)
    assert job.rows_changed["therapist_profiles"]["bio"] == 1
    assert job.interventions_resolved == 1
    profile.refresh_from_db()
    other_profile.refresh_from_db()
    assert (profile.bio, other_profile.bio) == ("Helps with anxiety.", "Stale too.")


def test_a_resync_of_a_therapist_gone_since_fails(alice, task_queue):
    user, _, _ = make_therapist(email="gone@example.com")
    job = jobs.start_resync(alice, "gone@example.com")
    user.delete()
    runner.run_resync(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "No therapist has the email gone@example.com" in job.events.last().message


def test_a_job_cancelled_before_it_started_never_runs(alice, five_stale_profiles):
    job = repair_all_job(alice)
    JobRun.objects.filter(pk=job.pk).update(cancel_requested=True)
    assert runner.begin_repair_all(job.pk) == []
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and not job.chunks.exists()


def test_a_job_whose_chunk_task_was_killed_is_closed_with_the_others_done(alice, five_stale_profiles):
    from consistency.tasks import repair_all_broken

    job = repair_all_job(alice)
    indexes = runner.begin_repair_all(job.pk)
    for index in indexes[:-1]:
        runner.run_chunk(job.pk, index)
    # The last chunk's task died (hard time limit, lost worker): the chord calls its errback.
    repair_all_broken("a-task-id", job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PARTIALLY_FAILED
    assert [c.state for c in job.chunks.all()] == [ChunkState.DONE, ChunkState.DONE, ChunkState.FAILED]
    assert "killed" in job.error and job.finished_at


@pytest.mark.parametrize("dry_run", [False, True], ids=["repair", "dry-run"])
def test_the_metrics_before_a_repair_all_are_those_of_a_pass_over_everyone_taken_before_it(alice, settings, dry_run):
    # Every check and link problem occurs, spread over several chunks.
    seed_platform(120, 0.3, seed=11, replace=True)
    settings.OPSDASH_REPAIR_CHUNK_SIZE = 25
    log_interventions([{"operation": "profile-sync", "entity_id": "x@example.com", "error": "x", "payload": {}}])
    expected = compute_metrics()
    job = runner.run_repair_all(repair_all_job(alice, dry_run=dry_run).pk)
    assert job.progress_total == 5
    assert {key: value for key, value in job.metrics_before.items() if key != "computed_at"} == {
        key: value for key, value in expected.items() if key != "computed_at"
    }
    assert all(expected["inconsistent"].values()) and all(expected["link_problems"].values())


def test_a_repair_all_cancelled_midway_records_no_metrics_before(alice, five_stale_profiles):
    job = repair_all_job(alice)
    indexes = runner.begin_repair_all(job.pk)
    runner.run_chunk(job.pk, indexes[0])
    JobRun.objects.filter(pk=job.pk).update(cancel_requested=True)
    for index in indexes[1:]:
        runner.run_chunk(job.pk, index)
    runner.finish_repair_all(job.pk)
    job.refresh_from_db()
    # Only the first chunk's two therapists were read: no figure would describe everyone.
    assert job.state == JobState.CANCELLED
    assert job.metrics_before is None and job.metrics_after["therapists"] == 5
