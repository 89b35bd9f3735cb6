import pytest
from django.urls import reverse

from consistency.models import AuditEntry, JobKind, JobRun
from interventions.models import Intervention
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

PAGE = reverse("consistency:therapist")


@pytest.fixture
def anna():
    """Anna signed in with a capitalised email; her profile's bio drifted."""
    user, _, _ = make_therapist("Anna@Example.com ", profile={"bio": "Old bio"})
    return user


def test_search_finds_the_therapist_by_normalised_email(viewer_client, anna):
    response = viewer_client.get(PAGE + "?email=%20anna@EXAMPLE.com")
    [item] = response.context["found"]
    assert item["state"].therapist_id == anna.id


def test_matrix_shows_the_three_rows_and_the_failing_field(viewer_client, anna):
    response = viewer_client.get(PAGE + "?email=anna@example.com")
    [item] = response.context["found"]
    bio = next(row for row in item["matrix"] if row.field.name == "bio")
    assert bio.passing is False
    assert [cell.value if cell else None for cell in bio.cells] == [None, "Helps with anxiety.", "Old bio"]
    assert bio.cells[1].is_source


def test_unknown_email_says_so(viewer_client):
    html = viewer_client.get(PAGE + "?email=nobody@example.com").content.decode()
    assert "No therapist has the email" in html


def test_therapist_without_profile_shows_no_profile_row(viewer_client):
    make_therapist("noprofile@example.com", profile=False)
    html = viewer_client.get(PAGE + "?email=noprofile@example.com").content.decode()
    assert "missing profile" in html and "no row" in html


def test_timeline_merges_interventions_jobs_and_audit_entries(viewer_client, anna, olivia):
    Intervention.objects.create(operation="avatar-sync", entity_id="anna@example.com", error="<i>failed</i>")
    JobRun.objects.create(kind=JobKind.RESYNC, target="anna@example.com", state="succeeded", requested_by=olivia)
    AuditEntry.objects.create(
        actor=olivia, actor_name="olivia", action="resolve", target="anna@example.com", details={"note": "ok"}
    )
    response = viewer_client.get(PAGE + "?email=anna@example.com")
    [item] = response.context["found"]
    assert sorted(e.kind for e in item["timeline"]) == ["audit", "intervention", "job"]
    html = response.content.decode()
    assert "&lt;i&gt;failed&lt;/i&gt;" in html


LIVE = reverse("consistency:therapist_live")


def test_resync_sends_the_operator_to_the_page_following_its_job(operator_client, anna, isolated_queue):
    response = operator_client.post(reverse("consistency:resync"), {"email": "anna@example.com"})
    job = JobRun.objects.get(kind=JobKind.RESYNC)
    assert response["Location"] == f"{PAGE}?email=anna%40example.com&job={job.pk}"
    html = operator_client.get(response["Location"]).content.decode()
    assert f'hx-get="{LIVE}?email=anna%40example.com&job={job.pk}"' in html


def test_poll_of_a_running_resync_answers_its_state_only(viewer_client, anna):
    job = JobRun.objects.create(kind=JobKind.RESYNC, target="anna@example.com", state="running")
    html = viewer_client.get(LIVE, {"email": "anna@example.com", "job": job.pk}).content.decode()
    assert 'hx-trigger="every 1s"' in html and "Running" in html
    assert "therapist-live" not in html


def test_poll_of_a_finished_resync_stops_and_redraws_the_therapist(viewer_client, anna):
    job = JobRun.objects.create(kind=JobKind.RESYNC, target="anna@example.com", state="succeeded")
    html = viewer_client.get(LIVE, {"email": "anna@example.com", "job": job.pk}).content.decode()
    assert "hx-trigger" not in html
    assert '<div id="therapist-live" hx-swap-oob="true">' in html and "Old bio" in html


def test_poll_of_another_therapists_job_is_not_found(viewer_client, anna):
    job = JobRun.objects.create(kind=JobKind.RESYNC, target="someone.else@example.com", state="running")
    assert viewer_client.get(LIVE, {"email": "anna@example.com", "job": job.pk}).status_code == 404
