"""The overview's health strip in a browser: green with a worker, red within a minute of it stopping."""

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases=["default", "platform"]),
]


def test_stopping_the_worker_turns_the_health_strip_red_within_a_minute(
    sign_in, seeded_platform, celery_worker, olivia, screenshot
):
    page = sign_in("olivia")
    strip = page.locator("#health-strip")
    expect(strip).to_have_class("card health-strip good")
    expect(strip.locator("[data-health=workers]")).to_contain_text(celery_worker.queue)
    screenshot("overview-health")
    page.select_option("select[name=every]", "5")
    celery_worker.stop()
    expect(page.locator("#health-strip")).to_have_class("card health-strip bad", timeout=60_000)
    expect(page.locator("#health-strip [role=alert]")).to_contain_text(
        f"No worker is consuming the queue {celery_worker.queue}"
    )
