"""Sign in, read the pages, resolve an intervention; a viewer sees no action."""

import re

import pytest
from django.db import connections
from playwright.sync_api import expect

from interventions.models import Intervention
from tests.interventions.logged import assert_stored_types, orphan_enrollments

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


def test_operator_signs_in_and_sees_the_metrics(sign_in, seeded_platform, olivia, screenshot):
    page = sign_in("olivia")
    expect(page.locator("h1")).to_have_text("Consistency overview")
    expect(page.locator(".stat").first).to_contain_text(str(seeded_platform.therapists))
    expect(page.locator("table.metrics").first).to_contain_text("bio")
    expect(page.locator(".pill.live-on")).to_contain_text("every 15 s")
    screenshot("overview")


def test_overview_refreshes_itself_at_the_chosen_rate(sign_in, seeded_platform, olivia):
    page = sign_in("olivia")
    page.select_option("select[name=every]", "5")
    expect(page.locator(".pill.live-on")).to_contain_text("every 5 s")
    with page.expect_response(re.compile(r"/overview/live/\?every=5"), timeout=12_000):
        pass


def test_operator_resolves_an_intervention_with_a_note(live_server, sign_in, seeded_platform, olivia, screenshot):
    orphan_enrollments("anna@example.com")
    assert_stored_types()
    page = sign_in("olivia")
    page.goto(live_server.url + "/interventions/?q=anna")
    row = page.locator("tr", has_text="anna@example.com")
    expect(row).to_contain_text("An approved enrollment has no user_id and no user has its email")
    screenshot("interventions")
    # "Resolve…" is the <summary> of a popover: it opens the form with the note.
    resolve = row.locator("summary", has_text="Resolve…")
    note = row.locator("textarea[name=note]")
    expect(resolve).to_be_visible()
    expect(note).to_be_hidden()
    resolve.click()
    expect(note).to_be_visible()
    note.fill("Asked Anna to sign in with the address she enrolled with")
    row.get_by_role("button", name="Resolve 1").click()
    expect(page.locator(".message.success")).to_have_text("Resolved 1 intervention.")
    item = Intervention.objects.get(entity_id="anna@example.com")
    assert (item.resolved, item.resolved_by, item.resolution_notes) == (
        True,
        "olivia",
        "Asked Anna to sign in with the address she enrolled with",
    )


# The controls of each page that act on something. "Resolve…" opens a form: it is the
# <summary> of a popover, not a button.
ACTIONS = {
    "/": [("button", "Refresh now")],
    "/checks/bio/": [("button", "Resync")],
    "/interventions/": [("summary", "Resolve…"), ("button", "Resolve all…"), ("button", "Add a note to all…")],
    "/jobs/": [("button", "Repair all…")],
}
# On a fresh install the safety net offers Install… only (Roll back… once something is installed).
SUPERUSER_ACTIONS = {"/safety-net/": [("button", "Install…")]}


def action_control(page, kind, name):
    if kind == "summary":
        return page.locator("summary", has_text=name)
    return page.get_by_role("button", name=name, exact=True)


@pytest.mark.parametrize(
    "person, actions, visible",
    [
        ("olivia", ACTIONS, True),
        ("sam", SUPERUSER_ACTIONS, True),
        ("victor", {**ACTIONS, **SUPERUSER_ACTIONS}, False),
    ],
)
def test_action_controls_show_only_to_whom_may_use_them(
    live_server, sign_in, seeded_platform, olivia, victor, sam, person, actions, visible
):
    orphan_enrollments("anna@example.com")
    page = sign_in(person)
    for path, controls in actions.items():
        page.goto(live_server.url + path)
        expect(page.locator("h1").first).to_be_visible()
        for kind, name in controls:
            control = action_control(page, kind, name)
            if visible:
                expect(control.first).to_be_visible()
            else:
                expect(control).to_have_count(0)
    if not visible:
        page.goto(live_server.url + "/checks/bio/")
        expect(page.locator("table.data tbody tr").first).to_be_visible()


def test_trends_draw_a_week_of_snapshots(live_server, sign_in, seeded_platform, victor, screenshot):
    from datetime import timedelta

    from django.utils import timezone

    from consistency.models import MetricSnapshot

    inconsistent = seeded_platform.inconsistent
    MetricSnapshot.objects.bulk_create(
        MetricSnapshot(
            taken_at=timezone.now() - timedelta(hours=6 * n),
            therapists=seeded_platform.therapists,
            consistent=max(0, seeded_platform.consistent - 3 * n),
            inconsistent={check: count + (n * (i + 1)) % 9 for i, (check, count) in enumerate(inconsistent.items())},
            link_problems=seeded_platform.link_problems,
        )
        for n in range(1, 28)
    )
    page = sign_in("victor")
    page.goto(live_server.url + "/trends/")
    expect(page.locator("#trend-chart")).to_be_visible()
    assert page.evaluate("Chart.getChart('trend-chart').data.datasets.length") == 8
    screenshot("trends")


def test_therapist_page_shows_the_rows_side_by_side(live_server, sign_in, seeded_platform, olivia, screenshot):
    from tests.factories import make_therapist

    make_therapist("Anna.Drift@Example.com", profile={"bio": "Anna's old bio", "specializations": ["Grief"]})
    page = sign_in("olivia")
    page.fill("header input[name=email]", "  anna.drift@example.com ")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("anna.drift@example.com")
    expect(page.locator("td.disagrees").first).to_contain_text("Anna's old bio")
    expect(page.get_by_role("button", name="Resync")).to_be_visible()
    screenshot("therapist")


@pytest.fixture
def safety_net_removed_after():
    """Roll the safety net back after the test, whatever the test left: its DDL is committed."""
    from consistency.safety_net import service as safety_net

    yield
    safety_net.rollback()


def test_safety_net_page_for_a_superuser(
    live_server, sign_in, seeded_platform, sam, screenshot, safety_net_removed_after
):
    page = sign_in("sam")
    page.goto(live_server.url + "/safety-net/")
    page.get_by_role("button", name="Install…").click()
    expect(page.locator("h1")).to_have_text("Install the safety net?")
    page.get_by_role("button", name="Install now").click()
    expect(page.locator(".message.success")).to_contain_text("the safety net is installed")
    screenshot("safety-net")
    page.goto(live_server.url + "/safety-net/")
    page.get_by_role("button", name="Roll back…").click()
    page.get_by_role("button", name="Roll back now").click()
    expect(page.locator(".message.success")).to_contain_text("not installed")


def test_bulk_resolve_refuses_when_what_was_confirmed_changed_and_resolves_nothing_else(
    live_server, sign_in, committed_platform, olivia
):
    Intervention.objects.create(operation="avatar-sync", entity_id="anna@example.com", error="avatar upload failed")
    Intervention.objects.create(operation="profile-sync", entity_id="bert@example.com", error="profile sync failed")
    page = sign_in("olivia")
    page.goto(live_server.url + "/interventions/?operation=avatar-sync")
    page.get_by_role("button", name="Resolve all…").click()
    expect(page.locator("h1")).to_have_text("Resolve 1 intervention?")
    # Meanwhile another operator resolves every avatar-sync: the operation leaves the filter's choices.
    Intervention.objects.filter(operation="avatar-sync").update(resolved=True, resolved_by="otto")
    page.fill("textarea[name=note]", "Fixed the uploads")
    page.get_by_role("button", name="Resolve 1 intervention").click()
    expect(page.locator("li.message.error")).to_contain_text("The selection no longer matches what you confirmed.")
    expect(page.locator("p.message.error")).to_contain_text("The filter is not valid, so it selects nothing")
    with connections["platform"].cursor() as cursor:
        cursor.execute("select entity_id, resolved_by from manual_intervention_log where resolved order by 1")
        assert cursor.fetchall() == [("anna@example.com", "otto")]
