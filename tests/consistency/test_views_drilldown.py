import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consistency.models import JobKind, JobRun, TherapistProfile, TherapistResult
from consistency.reporting.results import refresh_results
from consistency.reporting.snapshots import after_repair
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

BIO = reverse("consistency:drilldown", args=["bio"])


@pytest.fixture
def bio_drifts():
    """Three therapists whose profile bio differs, one pending, beside a consistent one."""
    make_therapist("fine@example.com")
    users = [
        make_therapist("Anna@Example.com", profile={"bio": "Anna's old bio"})[0],
        make_therapist("bert@example.com", profile={"bio": None})[0],
        make_therapist(
            "carl@example.com",
            enrollment={"status": "pending"},
            profile={"bio": "", "verification_status": "pending", "is_verified": False},
        )[0],
    ]
    refresh_results()
    return users


def test_drilldown_lists_the_failing_therapists_with_both_values(viewer_client, bio_drifts):
    response = viewer_client.get(BIO)
    html = response.content.decode()
    assert response.context["table"].paginator.count == 3
    assert "Anna&#x27;s old bio" in html and "Helps with anxiety." in html
    assert "fine@example.com" not in html


def test_null_and_empty_values_are_told_apart(viewer_client, bio_drifts):
    html = viewer_client.get(BIO).content.decode()
    assert '<span class="null">NULL</span>' in html
    assert '<span class="null">empty</span>' in html


def test_email_filter_matches_normalised(viewer_client, bio_drifts):
    response = viewer_client.get(BIO + "?email=%20ANNA@")
    assert [r.record.u_email for r in response.context["table"].rows] == ["Anna@Example.com"]


def test_status_filter(viewer_client, bio_drifts):
    response = viewer_client.get(BIO + "?status=pending")
    assert [r.record.u_email for r in response.context["table"].rows] == ["carl@example.com"]


def test_age_filter_keeps_therapists_failing_for_long(viewer_client, bio_drifts):
    TherapistResult.objects.filter(norm_email="bert@example.com").update(
        failing_since=timezone.now() - timedelta(days=8)
    )
    response = viewer_client.get(BIO + "?age=7d")
    assert [r.record.u_email for r in response.context["table"].rows] == ["bert@example.com"]


def test_sorting_by_email_descending(viewer_client, bio_drifts):
    response = viewer_client.get(BIO + "?sort=-email")
    assert [r.record.norm_email for r in response.context["table"].rows] == [
        "carl@example.com",
        "bert@example.com",
        "anna@example.com",
    ]


def test_pages_of_twenty_five(viewer_client):
    for n in range(30):
        make_therapist(f"t{n:02}@example.com", profile={"bio": "different"})
    refresh_results()
    response = viewer_client.get(BIO + "?page=2")
    assert len(response.context["table"].page.object_list) == 5


def test_csv_export_holds_every_filtered_row_without_buttons(operator_client, bio_drifts):
    response = operator_client.get(BIO + "?_export=csv&status=approved&sort=-email")
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "Email",
        "Enrollment status",
        "Enrollment bio",
        "Profile bio",
        "Inconsistent since",
        "Also failing",
    ]
    assert [r[:4] for r in rows[1:]] == [
        ["bert@example.com", "approved", "Helps with anxiety.", ""],
        ["Anna@Example.com", "approved", "Helps with anxiety.", "Anna's old bio"],
    ]
    assert "Resync" not in text


def test_htmx_request_gets_the_table_alone(viewer_client, bio_drifts):
    response = viewer_client.get(BIO + "?status=approved", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "<table" in html


def test_operator_sees_a_resync_button_per_row(operator_client, bio_drifts):
    html = operator_client.get(BIO).content.decode()
    assert html.count(">Resync</button>") == 3


def test_unknown_check_is_not_found(viewer_client):
    assert viewer_client.get(reverse("consistency:drilldown", args=["colour"])).status_code == 404


def test_link_problem_drilldown(viewer_client):
    make_therapist("noprofile@example.com", profile=False)
    refresh_results()
    response = viewer_client.get(reverse("consistency:drilldown", args=["missing_profile"]))
    assert [r.record.norm_email for r in response.context["table"].rows] == ["noprofile@example.com"]


def test_row_fragment_follows_a_running_job(viewer_client, bio_drifts):
    job = JobRun.objects.create(kind=JobKind.RESYNC, target="bert@example.com", state="running")
    url = reverse("consistency:drilldown_row", args=["bio", bio_drifts[1].id]) + f"?job={job.pk}"
    html = viewer_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in html and "Running" in html


def test_row_fragment_shows_the_therapist_consistent_after_its_resync(viewer_client, bio_drifts):
    bert = bio_drifts[1]
    job = JobRun.objects.create(kind=JobKind.RESYNC, target="bert@example.com", state="succeeded")
    TherapistProfile.objects.filter(user=bert).update(bio="Helps with anxiety.")
    after_repair(therapist_ids=[bert.id], job=job)
    url = reverse("consistency:drilldown_row", args=["bio", bert.id]) + f"?job={job.pk}"
    html = viewer_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "consistent-now" in html and "✓ consistent" in html
    assert "hx-trigger" not in html
