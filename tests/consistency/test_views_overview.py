import pytest
from django.test import override_settings
from django.urls import reverse

from consistency.models import JobKind, JobRun
from consistency.reporting.snapshots import take_snapshot
from interventions.models import Intervention
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def one_in_four_drifted():
    """Four therapists, one with a profile bio that differs from its enrollment's."""
    for _ in range(3):
        make_therapist()
    make_therapist(profile={"bio": "Old bio"})
    return take_snapshot()


def test_overview_shows_counts_and_percentages_of_the_latest_snapshot(viewer_client, one_in_four_drifted):
    html = viewer_client.get(reverse("consistency:overview")).content.decode()
    assert "25.0%" in html  # bio: 1 of 4
    assert "75.0%" in html  # consistent: 3 of 4
    assert one_in_four_drifted.taken_at.strftime("%Y-%m-%d %H:%M") in html


def test_overview_reads_the_snapshot_not_the_platform(viewer_client, one_in_four_drifted):
    make_therapist(profile={"bio": "Drifted after the snapshot"})
    response = viewer_client.get(reverse("consistency:overview"))
    assert response.context["snapshot"].therapists == 4


def test_overview_without_snapshot_says_none_was_taken(viewer_client):
    assert "No metrics yet" in viewer_client.get(reverse("consistency:overview")).content.decode()


@override_settings(OPSDASH_INTERVENTION_TARGET=2)
def test_unresolved_interventions_are_counted_against_the_target(viewer_client, one_in_four_drifted):
    for n in range(3):
        Intervention.objects.create(operation="avatar-sync", entity_id=f"t{n}@example.com", error="failed")
    Intervention.objects.create(operation="avatar-sync", entity_id="old@example.com", error="x", resolved=True)
    response = viewer_client.get(reverse("consistency:overview"))
    interventions = response.context["interventions"]
    assert {key: interventions[key] for key in ("count", "target", "within_target")} == {
        "count": 3,
        "target": 2,
        "within_target": False,
    }
    assert "target: under 2" in response.content.decode()


def test_live_fragment_renders_alone_and_polls_at_the_chosen_rate(viewer_client, one_in_four_drifted):
    response = viewer_client.get(reverse("consistency:overview_live") + "?every=30", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert 'hx-trigger="every 30s [document.visibilityState' in html
    assert viewer_client.session["overview_refresh_rate"] == 30


def test_live_fragment_paused_does_not_poll(viewer_client, one_in_four_drifted):
    html = viewer_client.get(
        reverse("consistency:overview_live") + "?every=0", headers={"HX-Request": "true"}
    ).content.decode()
    assert "hx-trigger" not in html
    assert "paused" in html


def test_unknown_refresh_rate_falls_back_to_the_default(viewer_client, one_in_four_drifted):
    response = viewer_client.get(reverse("consistency:overview_live") + "?every=1", headers={"HX-Request": "true"})
    assert response.context["every"] == 15


def test_overview_lists_running_and_recent_jobs(viewer_client):
    JobRun.objects.create(kind=JobKind.REPAIR_ALL, state="running", progress_done=1, progress_total=4)
    JobRun.objects.create(kind=JobKind.RESYNC, target="done@example.com", state="succeeded")
    response = viewer_client.get(reverse("consistency:overview"))
    assert [j.state for j in response.context["running_jobs"]] == ["running"]
    assert [j.target for j in response.context["recent_jobs"]] == ["done@example.com"]
