"""
Browser tests: Debian's Chromium (Playwright) against a live server, with a real
Celery worker on the test databases.

Screenshots of the main pages go to OPSDASH_SCREENSHOTS when it is set
(``OPSDASH_SCREENSHOTS=docs/screenshots pytest -m browser`` refreshes the README's).
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from consistency.seed import seed_platform
from consistency.snapshots import take_snapshot

# Playwright's sync API runs an event loop in this thread; the ORM calls of the tests
# are still synchronous, one at a time.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
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


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium, not a browser Playwright would download."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A desktop window, as ops staff use the dashboard."""
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


@pytest.fixture
def seeded_platform(committed_platform):
    """A small marketplace with every kind of drift (seed_platform), and its first snapshot."""
    seed_platform(200, 0.1, seed=7, replace=True)
    return take_snapshot()


def _database_url(alias):
    db = settings.DATABASES[alias]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def celery_worker(committed_platform, tmp_path):
    """
    Start a Celery worker process on the test databases and a queue of its own.

    The queue name keeps this run's tasks from any other worker on the same Redis;
    the live server's enqueues go there too (task_default_queue is read per send).
    """
    from opsdash.celery import app

    queue = f"opsdash-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url("default"),
        "PLATFORM_DATABASE_URL": _database_url("platform"),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "OPSDASH_CELERY_QUEUE": queue,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "opsdash", "worker", "--pool=solo", "-Q", queue,
        "--pidfile", str(tmp_path / "worker.pid"), "--loglevel=INFO",
        "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=Path(settings.BASE_DIR))
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not start:\n" + log.read_text())
            time.sleep(0.2)
        yield process
    finally:
        app.conf.task_default_queue = previous
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
