import pytest
from django.urls import reverse

from tests.factories import make_therapist
from tests.helpers import refuse_in_platform, repair_all_job

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def therapists_in_five_chunks(settings):
    """Eight therapists, seven with a stale profile bio; Fay's new bio the profiles refuse."""
    settings.OPSDASH_REPAIR_CHUNK_SIZE = 2
    for n in range(7):
        make_therapist(profile={"bio": f"Stale {n}."})
    make_therapist("fay@example.com", enrollment={"bio": "<b>Fay</b>"})
    refuse_in_platform("therapist_profiles", "no markup", "bio not like '%%<b>%%'")


@pytest.fixture
def running_repair(olivia, therapists_in_five_chunks):
    """A repair-all that has run three of its five chunks."""
    return repair_all_job(olivia, chunks=3)


@pytest.fixture
def finished_repair(olivia, therapists_in_five_chunks):
    """A repair-all that repaired seven therapists and failed to repair Fay."""
    return repair_all_job(olivia)


@pytest.fixture
def failed_repair(olivia):
    """A repair-all whose only chunk failed: the intervention log refused what it logged."""
    make_therapist("gus@example.com", profile=False)
    refuse_in_platform("manual_intervention_log", "<b>constraint</b>", "false")
    return repair_all_job(olivia)


def test_history_lists_who_started_each_job(viewer_client, olivia, finished_repair, bob):
    later = repair_all_job(bob)
    response = viewer_client.get(reverse("consistency:jobs"))
    listed = [(row.record.pk, row.record.requested_by.username) for row in response.context["table"].rows]
    assert listed == [(later.pk, "bob"), (finished_repair.pk, "olivia")]
    html = response.content.decode()
    assert html.count(">olivia<") == 1 and html.count(">bob<") == 1


def test_job_page_shows_progress_while_running_and_polls(viewer_client, running_repair):
    html = viewer_client.get(reverse("consistency:job", args=[running_repair.pk])).content.decode()
    assert (running_repair.state, running_repair.progress_done, running_repair.progress_total) == ("running", 3, 5)
    assert 'aria-valuenow="60"' in html
    assert 'hx-trigger="every 1s' in html
    assert "8 therapists in 5 chunks of up to 2" in html


def test_live_fragment_renders_alone(viewer_client, running_repair):
    html = viewer_client.get(
        reverse("consistency:job_live", args=[running_repair.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in html and 'id="job-live"' in html


def test_finished_job_shows_what_changed_and_achieved_and_stops_polling(viewer_client, finished_repair):
    response = viewer_client.get(reverse("consistency:job", args=[finished_repair.pk]))
    html = response.content.decode()
    assert "hx-trigger" not in html
    assert "Partially failed" in html
    changed = [(table, column, rows) for table, column, rows in response.context["changed_columns"] if rows]
    assert changed == [("therapist_profiles", "bio", 7)]
    bio = next(r for r in response.context["metric_changes"] if r["name"] == "bio")
    assert (bio["before"], bio["after"], bio["delta"]) == (8, 1, -7)
    assert "<dt>Interventions logged</dt><dd>1 <span" in html


def test_failed_job_shows_its_error_escaped(viewer_client, failed_repair):
    html = viewer_client.get(reverse("consistency:job", args=[failed_repair.pk])).content.decode()
    assert failed_repair.state == "failed"
    assert "chunk 0: IntegrityError" in failed_repair.error and '"<b>constraint</b>"' in failed_repair.error
    assert "&lt;b&gt;constraint&lt;/b&gt;" in html and "<b>constraint</b>" not in html


def test_history_fragment_for_htmx(viewer_client, finished_repair):
    html = viewer_client.get(reverse("consistency:jobs") + "?page=1", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html and "<table" in html
