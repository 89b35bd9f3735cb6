"""Refresh now on the overview: the figures of the new snapshot come in as soon as it is taken."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from consistency.models import AttemptState, SnapshotAttempt
from consistency.platform.seed import seed_platform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


@pytest.fixture
def platform_without_snapshot(committed_platform):
    """A small marketplace with every kind of drift, and no snapshot of it yet."""
    seed_platform(200, 0.1, seed=7, replace=True)


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_refresh_now_swaps_the_new_figures_in_within_seconds_of_the_snapshot(
    debug, settings, monkeypatch, start_worker, sign_in, platform_without_snapshot, olivia
):
    if debug:
        monkeypatch.setenv("DJANGO_DEBUG", "true")  # the worker's settings, as a developer runs it
        settings.DEBUG = True  # the live server's
    start_worker()
    page = sign_in("olivia")
    expect(page.locator("#overview-live")).to_contain_text("No metrics yet")

    page.get_by_role("button", name="Refresh now").click()
    expect(page.locator("#overview-live .asof")).to_contain_text("Figures computed at", timeout=60_000)
    seen = timezone.now()

    attempt = SnapshotAttempt.objects.get()
    assert attempt.state == AttemptState.SUCCEEDED, attempt.error
    # Followed every second: not at the next poll of the chosen rate (15 s).
    assert (seen - attempt.finished_at).total_seconds() < 4
    expect(page.get_by_text("on its way")).to_have_count(0)
    expect(page.locator(".stat").first).to_contain_text(str(attempt.snapshot.therapists))
    expect(page.locator("#snapshot-failed")).to_have_count(0)
