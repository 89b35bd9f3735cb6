"""The intervention queue with its details drawer open: the rows' actions stay usable."""

import pytest
from playwright.sync_api import expect

from interventions.models import Intervention

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


def test_resolve_of_the_top_row_works_with_the_details_drawer_open(live_server, sign_in, olivia, committed_platform):
    Intervention.objects.create(
        operation="avatar-sync", entity_id="anna@example.com", error="upload failed", payload={"job": 5}
    )
    Intervention.objects.create(operation="bio-sync", entity_id="ben@example.com", error="timeout")
    page = sign_in("olivia")
    page.goto(live_server.url + "/interventions/")
    row = page.locator("table.data tbody tr").first
    expect(row).to_contain_text("anna@example.com")
    row.get_by_role("button", name="Details").click()
    drawer = page.locator("#drawer")
    expect(drawer).to_contain_text("avatar-sync")
    resolve = row.locator("summary", has_text="Resolve…")
    # A person can reach it: nothing lies over the button, and it is in the window.
    expect(resolve).to_be_in_viewport()
    box, side = resolve.bounding_box(), drawer.bounding_box()
    assert box["x"] + box["width"] <= side["x"], (box, side)
    resolve.click(timeout=5_000)
    row.locator("textarea[name=note]").fill("Asked Anna to upload it again")
    row.get_by_role("button", name="Resolve 1").click(timeout=5_000)
    expect(page.locator(".message.success")).to_have_text("Resolved 1 intervention.")
    assert Intervention.objects.get(entity_id="anna@example.com").resolved is True
