"""
Browser tests: Chromium (Playwright) against a live server, with a real Celery worker
on the test databases (tests/worker.py).

The browser is Playwright's own Chromium where it is installed (``playwright install
chromium``), else Debian's (``apt-get install chromium``). Without either, the tests
are skipped with that reason; in CI (the CI variable set, as .ci/run does) they fail
instead, so that a missing browser never passes for a green run.

Screenshots of the main pages go to OPSDASH_SCREENSHOTS when it is set
(``OPSDASH_SCREENSHOTS=docs/screenshots pytest -m browser`` refreshes the README's).
"""

import os
import shutil
from functools import cache
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from consistency.platform.seed import seed_platform
from consistency.reporting.snapshots import take_snapshot

# Playwright's sync API runs an event loop in this thread; the ORM calls of the tests
# are still synchronous, one at a time.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORDS = {"olivia": "olivia-password-1", "victor": "victor-password-1", "sam": "sam-password-1"}


@cache
def chromium():
    """Return the Chromium to launch: Playwright's own when installed, else Debian's, else None."""
    with sync_playwright() as playwright:
        own = playwright.chromium.executable_path
    if Path(own).exists():
        return own
    return shutil.which("chromium") or (DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).exists() else None)


def pytest_collection_modifyitems(config, items):
    """Skip the browser tests when there is no browser, unless in CI, where they must run."""
    browser_tests = [item for item in items if item.get_closest_marker("browser")]
    if not browser_tests or chromium() or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(
        reason="no Chromium: run `.venv/bin/playwright install chromium` or `apt-get install chromium`"
    )
    for item in browser_tests:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch the Chromium found, with the flags a closed network and a container need."""
    path = chromium()
    if path is None:
        pytest.fail(
            "no Chromium for the browser tests: `.venv/bin/playwright install chromium` or `apt-get install chromium`"
        )
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A desktop window, as ops staff use the dashboard."""
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


@pytest.fixture
def seeded_platform(committed_platform):
    """A small marketplace with every kind of drift (seed_platform), and its first snapshot."""
    seed_platform(200, 0.1, seed=7, replace=True)
    return take_snapshot()


@pytest.fixture
def celery_worker(start_worker):
    """A real Celery worker on the test databases; the live server queues to it (chunks of 50)."""
    return start_worker(chunk_size=50)


@pytest.fixture
def sign_in(live_server, page):
    """Return a function that signs a person in through the login form."""

    def sign_in_as(username):
        page.goto(live_server.url + "/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORDS[username])
        page.click("button[type=submit]")
        page.wait_for_url(live_server.url + "/")
        return page

    return sign_in_as


@pytest.fixture
def screenshot(page):
    """Return a function that saves the page to OPSDASH_SCREENSHOTS (when set) under a name."""
    folder = os.environ.get("OPSDASH_SCREENSHOTS")

    def save(name):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return save
