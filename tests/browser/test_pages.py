"""Sign in, read the pages, resolve an intervention; a viewer sees no action."""

import re

import pytest
from playwright.sync_api import expect

from interventions.models import Intervention

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
    Intervention.objects.create(operation="avatar-sync", entity_id="anna@example.com", error="<script>alert(1)</script> upload failed")
    page = sign_in("olivia")
    page.goto(live_server.url + "/interventions/?q=anna")
    row = page.locator("tr", has_text="anna@example.com")
    expect(row).to_contain_text("<script>alert(1)</script> upload failed")
    screenshot("interventions")
    row.locator("summary", has_text="Resolve").click()
    row.locator("textarea[name=note]").fill("Asked Anna to upload it again")
    row.get_by_role("button", name="Resolve 1").click()
    expect(page.locator(".message.success")).to_have_text("Resolved 1 intervention.")
    item = Intervention.objects.get(entity_id="anna@example.com")
    assert (item.resolved, item.resolved_by, item.resolution_notes) == (True, "olivia", "Asked Anna to upload it again")


def test_viewer_sees_no_action_buttons(live_server, sign_in, seeded_platform, victor):
    Intervention.objects.create(operation="avatar-sync", entity_id="anna@example.com", error="failed")
    page = sign_in("victor")
    expect(page.locator(".who .role")).to_have_text("viewer")
    for path in ("/", "/checks/bio/", "/interventions/", "/jobs/", "/safety-net/"):
        page.goto(live_server.url + path)
        for name in ("Refresh now", "Resync", "Resolve…", "Repair all…", "Install…", "Roll back…"):
            expect(page.get_by_role("button", name=name)).to_have_count(0)
    page.goto(live_server.url + "/checks/bio/")
    expect(page.locator("table.data tbody tr").first).to_be_visible()
