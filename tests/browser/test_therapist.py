"""The therapist page as an operator sees it: what it marks, and a resync it follows to the end."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import make_therapist

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


def matrix_row(page, field):
    return page.locator("table.matrix tbody tr", has=page.locator("th", has_text=re.compile(rf"^\s*{field}\b")))


def test_resync_from_the_therapist_page_redraws_it_when_the_job_ends(live_server, sign_in, olivia, celery_worker):
    make_therapist("anna.drift@example.com", profile={"bio": "Anna's old bio"}, user={"is_verified": False})
    page = sign_in("olivia")
    page.goto(live_server.url + "/therapists/?email=anna.drift@example.com")
    card = page.locator("section.therapist")
    expect(card.locator(".badges .pill.bad")).to_have_text("inconsistent")
    expect(card.locator("td.disagrees")).to_have_count(2)
    page.get_by_role("button", name="Resync").click()
    expect(page.locator(".message.success")).to_contain_text("queued as job #")
    url = page.url
    # No reload: the page follows the job by itself and draws the therapist as it left it.
    expect(card.locator(".badges .pill.good")).to_have_text("consistent", timeout=30_000)
    expect(card.locator(".badges .pill.warn")).to_have_count(0)
    expect(card.locator("td.disagrees")).to_have_count(0)
    expect(matrix_row(page, "bio").locator(".ko")).to_have_count(0)
    expect(card.locator(".timeline .event-job .state")).to_have_text("Succeeded")
    expect(page.locator("#resync-follow")).to_contain_text("has finished")
    expect(page.get_by_text("Nothing: the rows agree wherever a resync can make them agree.")).to_be_visible()
    assert page.url == url


def test_verification_marks_only_the_row_that_disagrees(live_server, sign_in, olivia, committed_platform):
    # The reported case: the enrollment and the profile both say "approved"; only the
    # user's is_verified is wrong, so the status row is not marked.
    make_therapist("vera@example.com", user={"is_verified": False})
    page = sign_in("olivia")
    page.goto(live_server.url + "/therapists/?email=vera@example.com")
    expect(page.locator(".badges .pill.warn")).to_have_text(["Verification"], ignore_case=True)
    status, verified = matrix_row(page, "status"), matrix_row(page, "verified")
    expect(status).to_contain_text("approved")
    expect(status.locator(".ko")).to_have_count(0)
    expect(status).not_to_have_class(re.compile("failing"))
    expect(verified.locator(".ko")).to_have_text("✗")
    expect(verified).to_have_class(re.compile("failing"))
    expect(verified.locator("td.disagrees")).to_have_count(1)


def test_legend_says_in_words_which_value_a_resync_keeps(live_server, sign_in, olivia, committed_platform):
    make_therapist("anna@example.com", profile={"bio": "Old bio"})
    page = sign_in("olivia")
    page.goto(live_server.url + "/therapists/?email=anna@example.com")
    legend = page.locator(".legend")
    expect(legend).to_contain_text("holds the value a resync keeps: the source of truth in the last column")
    expect(page.locator("main")).not_to_contain_text("§")
