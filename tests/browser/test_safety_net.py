"""The safety net page on a fresh install, as a superuser first sees it."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


def test_fresh_install_explains_the_safety_net_instead_of_raising_alarms(live_server, sign_in, sam, committed_platform):
    page = sign_in("sam")
    page.goto(live_server.url + "/safety-net/")
    card = page.locator("main .card")
    state = card.locator(".pill").first
    expect(state).to_have_text("not installed")
    expect(state).not_to_have_class("pill bad")
    expect(card).to_contain_text("What it does:")
    expect(card).to_contain_text("python manage.py safety_net install")
    # Not one red mark: nothing is broken.
    expect(page.locator("main .ko")).to_have_count(0)
    expect(page.locator("main .bad")).to_have_count(0)
    # Only the action that applies.
    expect(page.get_by_role("button", name="Install…")).to_be_visible()
    expect(page.get_by_role("button", name="Roll back…")).to_have_count(0)
