"""
opsdash as the everyday role of the README ("Least privilege"): every page, resync, repair-all
and its dry run, with exactly the grants of consistency/sql/app_role_grants.sql and nothing more.

In this process the platform connection takes the role with SET ROLE; the worker logs
in as it.
"""

import psycopg
import pytest
from django.db import ProgrammingError, connections, transaction
from django.urls import reverse

from consistency.jobs import runner
from consistency.jobs import service as jobs
from consistency.models import JobKind, JobRun, JobState
from consistency.reporting.snapshots import take_snapshot
from interventions.log import log_intervention
from interventions.models import Intervention
from tests.factories import make_enrollment, make_therapist, make_user
from tests.test_permissions import pages
from tests.worker import database_url, wait_for

DB = pytest.mark.django_db(databases=["default", "platform"])
FINISHED = [JobState.SUCCEEDED, JobState.FAILED, JobState.PARTIALLY_FAILED, JobState.CANCELLED]


@pytest.fixture
def drift():
    """Therapists with a stale profile bio, an unlinked enrollment, and one without a profile (made as the owner)."""
    for n in range(3):
        make_therapist(f"stale{n}@example.com", profile={"bio": f"Stale {n}."})
    user = make_user("unlinked@example.com")
    make_enrollment(user, linked=False)
    make_therapist("noprofile@example.com", profile=False)


def profile_bios():
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "select u.email, p.bio from users u join therapist_profiles p on p.user_id = u.id"
            " where u.email like 'stale%%' order by 1"
        )
        return cursor.fetchall()


@DB
def test_the_everyday_role_may_not_change_the_schema(as_app_role):
    for statement in ("create table opsdash_probe (id int)", "create index on users (email)", "delete from users"):
        with pytest.raises(ProgrammingError, match="permission denied|must be owner"):
            with transaction.atomic(using="platform"), connections["platform"].cursor() as cursor:
                cursor.execute(statement)


@DB
def test_every_page_answers_as_the_everyday_role(drift, superuser_client, as_app_role):
    log_intervention("avatar-sync", "stale0@example.com", "failed")
    take_snapshot()
    job = JobRun.objects.create(kind=JobKind.REPAIR_ALL, state=JobState.SUCCEEDED)
    urls = [reverse(name, args=args) + query for name, args, query in pages(job)]
    urls += [
        reverse("consistency:therapist") + "?email=stale0@example.com",
        reverse("consistency:drilldown", args=["bio"]),
    ]
    for url in urls:
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"permission denied" not in body, url


@DB
def test_repair_all_its_dry_run_and_a_resync_run_as_the_everyday_role(drift, olivia, as_app_role):
    dry = runner.run_repair_all(jobs.start_repair_all(olivia, dry_run=True, queue=False).pk)
    assert dry.state == JobState.SUCCEEDED and dry.therapists_changed == 4
    assert profile_bios() == [(f"stale{n}@example.com", f"Stale {n}.") for n in range(3)]

    full = runner.run_repair_all(jobs.start_repair_all(olivia, queue=False).pk)
    assert full.state == JobState.SUCCEEDED, full.error
    assert full.therapists_changed == 4
    assert profile_bios() == [(f"stale{n}@example.com", "Helps with anxiety.") for n in range(3)]
    assert Intervention.objects.filter(operation="missing-profile", entity_id="noprofile@example.com").exists()

    resync = jobs.start_resync(olivia, "stale1@example.com", queue=False)
    runner.run_resync(resync.pk)
    resync.refresh_from_db()
    assert (resync.state, resync.error) == (JobState.SUCCEEDED, "")


@DB
def test_operator_actions_work_as_the_everyday_role(drift, operator_client, isolated_queue, as_app_role):
    log_intervention("avatar-sync", "stale0@example.com", "failed")
    created = operator_client.post(
        reverse("consistency:create_profile"),
        {"email": "noprofile@example.com", "licensed_qualification": "MSc"},
        follow=True,
    )
    assert "Created the profile" in created.content.decode()
    resolved = operator_client.post(
        reverse("interventions:resolve"),
        {"action": "resolve", "operation": "avatar-sync", "entity_id": "stale0@example.com", "note": "fixed by hand"},
        follow=True,
    )
    assert "Resolved 1 intervention." in resolved.content.decode()
    queued = operator_client.post(reverse("consistency:resync"), {"email": "stale1@example.com"}, follow=True)
    assert "queued as job" in queued.content.decode()
    assert isolated_queue.queued() == 1


@DB
def test_installing_the_safety_net_as_the_everyday_role_says_who_may(superuser_client, as_app_role):
    response = superuser_client.post(
        reverse("consistency:change_safety_net", args=["install"]), {"confirmed": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert "may not change the platform&#x27;s schema" in response.content.decode()


@pytest.mark.worker
@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_a_worker_signed_in_as_the_everyday_role_runs_the_dry_run_repair_all_and_a_resync(
    drift, start_worker, app_role, olivia
):
    platform = connections["platform"].settings_dict
    owner = platform["USER"]
    platform["USER"] = app_role  # the worker's PLATFORM_DATABASE_URL names the role
    try:
        worker = start_worker(chunk_size=2)
    finally:
        platform["USER"] = owner

    def finished(job):
        return wait_for(lambda: JobRun.objects.filter(pk=job.pk, state__in=FINISHED).first(), what=f"{job} to finish")

    assert finished(jobs.start_repair_all(olivia, dry_run=True)).state == JobState.SUCCEEDED
    full = finished(jobs.start_repair_all(olivia))
    assert full.state == JobState.SUCCEEDED, full.error
    assert finished(jobs.start_resync(olivia, "stale2@example.com")).state == JobState.SUCCEEDED
    with psycopg.connect(database_url("platform").replace("postgres://", "postgresql://")) as conn:
        bios = conn.execute(
            "select p.bio from users u join therapist_profiles p on p.user_id = u.id where u.email like 'stale%%'"
        ).fetchall()
    assert bios == [("Helps with anxiety.",)] * 3
    assert "permission denied" not in worker.log()
