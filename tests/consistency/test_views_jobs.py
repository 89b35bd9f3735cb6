import pytest
from django.urls import reverse

from consistency.models import JobEvent, JobKind, JobRun

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def running_repair(olivia):
    job = JobRun.objects.create(kind=JobKind.REPAIR_ALL, state="running", requested_by=olivia, progress_done=3, progress_total=4)
    JobEvent.objects.create(job=job, state="queued")
    JobEvent.objects.create(job=job, state="running", message="4 chunks")
    return job


@pytest.fixture
def finished_repair(olivia):
    return JobRun.objects.create(
        kind=JobKind.REPAIR_ALL,
        state="partially_failed",
        requested_by=olivia,
        progress_done=4,
        progress_total=4,
        rows_changed={"therapist_profiles": {"bio": 7}, "users": {"avatar_url": 2}},
        interventions_resolved=3,
        metrics_before={"consistent": 10, "inconsistent": {"bio": 7}, "link_problems": {}},
        metrics_after={"consistent": 17, "inconsistent": {"bio": 0}, "link_problems": {}},
        error="therapist x: <b>constraint</b> violated",
    )


def test_history_lists_who_started_each_job(viewer_client, running_repair, finished_repair):
    html = viewer_client.get(reverse("consistency:jobs")).content.decode()
    assert html.count("olivia") >= 2
    assert "Partially failed" in html


def test_job_page_shows_progress_while_running_and_polls(viewer_client, running_repair):
    html = viewer_client.get(reverse("consistency:job", args=[running_repair.pk])).content.decode()
    assert 'aria-valuenow="75"' in html
    assert 'hx-trigger="every 1s' in html
    assert "4 chunks" in html


def test_live_fragment_renders_alone(viewer_client, running_repair):
    html = viewer_client.get(reverse("consistency:job_live", args=[running_repair.pk]), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html and 'id="job-live"' in html


def test_finished_job_shows_what_changed_and_achieved_and_stops_polling(viewer_client, finished_repair):
    response = viewer_client.get(reverse("consistency:job", args=[finished_repair.pk]))
    html = response.content.decode()
    assert "hx-trigger" not in html
    assert response.context["changed_columns"] == [("therapist_profiles", "bio", 7), ("users", "avatar_url", 2)]
    bio = next(r for r in response.context["metric_changes"] if r["name"] == "bio")
    assert (bio["before"], bio["after"], bio["delta"]) == (7, 0, -7)
    assert "&lt;b&gt;constraint&lt;/b&gt;" in html


def test_history_fragment_for_htmx(viewer_client, finished_repair):
    html = viewer_client.get(reverse("consistency:jobs") + "?page=1", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html and "<table" in html
