"""The overview while the platform database hangs: a banner within one poll, gone once it answers again."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


def test_the_live_overview_says_the_platform_hangs_and_when_it_is_back(
    sign_in, seeded_platform, olivia, platform_proxy, settings, screenshot
):
    settings.OPSDASH_OUTAGE_RECHECK_SECONDS = 0
    page = sign_in("olivia")
    page.select_option("select[name=every]", "5")
    platform_proxy.stall()
    banner = page.locator(".outage")
    expect(banner).to_contain_text("The platform database is unavailable since", timeout=30_000)
    # What opsdash's own database knows stays on the page.
    expect(page.locator(".stat").first).to_contain_text(str(seeded_platform.therapists))
    expect(page.locator("#overview-live")).to_contain_text("Unknown: the platform database is unavailable.")
    screenshot("overview-platform-unavailable")
    platform_proxy.forward()
    expect(banner).to_have_count(0, timeout=30_000)
