from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from consistency.catalogue import CHECK_NAMES, LINK_PROBLEM_NAMES
from consistency.models import MetricSnapshot


@pytest.fixture(autouse=True)
def forget_cached_health():
    """Each test pings the workers afresh: the cached answer belongs to another test's queue."""
    cache.clear()
    yield
    cache.clear()


def make_snapshot(age=timedelta(0), therapists=100, consistent=90, failing=None, link_problems=None, **fields):
    """Store a snapshot taken ``age`` ago, ``failing`` {check: therapists} and the rest passing."""
    return MetricSnapshot.objects.create(
        taken_at=timezone.now() - age,
        therapists=therapists,
        consistent=consistent,
        inconsistent={check: (failing or {}).get(check, 0) for check in CHECK_NAMES},
        link_problems={problem: (link_problems or {}).get(problem, 0) for problem in LINK_PROBLEM_NAMES},
        **fields,
    )


@pytest.fixture
def fresh_snapshot(db):
    """A snapshot taken just now: 90 of 100 therapists consistent, 10 failing bio."""
    return make_snapshot(failing={"bio": 10}, unresolved_interventions=2, duration_ms=1500)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (a free port) that records the JSON posted to it; it may fail the first requests."""

    def __init__(self, failures=0):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received = []
        self.attempts = 0
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(500)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def apprise_url(self):
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()
