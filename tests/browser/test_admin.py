"""The admin as a person sees it at 1440 px, and the favicon on every page."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from interventions.models import Intervention

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


@pytest.fixture
def resolved_intervention(committed_platform):
    return Intervention.objects.create(
        operation="verification-sync",
        entity_id="a.rather.long.email.address.of.a.therapist@example-practice.com",
        error="The profile's verification status could not be written: " + "x" * 120,
        payload={"job": 1},
        resolved=True,
        resolved_at=timezone.now(),
        resolved_by="olivia",
        resolution_notes="Fixed by hand",
    )


def test_admin_intervention_list_shows_the_resolved_at_column_whole_at_1440_px(
    live_server, sign_in, sam, resolved_intervention
):
    page = sign_in("sam")
    page.goto(live_server.url + "/admin/interventions/intervention/")
    header = page.locator("#result_list thead th", has_text="Resolved at")
    cell = page.locator("#result_list tbody tr").first.locator("td").last
    expect(header).to_be_visible()
    expect(cell).not_to_be_empty()
    width = page.evaluate("window.innerWidth")
    results = page.locator("#changelist .results").bounding_box()
    for box in (header.bounding_box(), cell.bounding_box()):
        right = box["x"] + box["width"]
        assert right <= width and right <= results["x"] + results["width"], (box, results, width)
    # Nothing of the list is hidden behind a horizontal scroll bar.
    assert page.evaluate(
        "(() => { const t = document.querySelector('#changelist .results'); return t.scrollWidth <= t.clientWidth; })()"
    )


@pytest.mark.parametrize("path", ["/", "/interventions/", "/admin/", "/admin/interventions/intervention/"])
def test_every_page_links_a_favicon_that_exists(live_server, sign_in, sam, path):
    page = sign_in("sam")
    page.goto(live_server.url + path)
    hrefs = page.eval_on_selector_all("link[rel=icon]", "links => links.map(l => l.href)")
    assert hrefs, f"{path} links no favicon"
    for href in hrefs:
        response = page.request.get(href)
        assert response.status == 200, href
        assert response.headers["content-type"].startswith("image/"), href


def test_favicon_ico_is_served_at_the_site_root(live_server, page):
    response = page.request.get(live_server.url + "/favicon.ico")
    assert response.status == 200
    assert response.body()[:4] == b"\x00\x00\x01\x00"  # an icon file
