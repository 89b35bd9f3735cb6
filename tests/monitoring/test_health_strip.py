"""The overview's health strip: workers on opsdash's queue, the queue's length, the snapshot's age."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse

from monitoring import health
from opsdash.celery import app
from tests.monitoring.conftest import make_snapshot

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def _strip(client):
    html = client.get(reverse("consistency:overview_live"), headers={"HX-Request": "true"}).content.decode()
    assert 'id="health-strip"' in html
    return html


@pytest.mark.worker
def test_overview_names_the_worker_consuming_opsdash_queue(viewer_client, start_worker):
    worker = start_worker()
    make_snapshot()
    html = _strip(viewer_client)
    assert worker.queue in html  # the worker's hostname starts with its queue's name
    assert "No worker is consuming" not in html


@pytest.mark.worker
def test_stopping_the_worker_turns_the_strip_red(viewer_client, start_worker, settings):
    settings.OPSDASH_WORKER_CACHE_SECONDS = 1
    worker = start_worker()
    make_snapshot()
    assert 'class="card health-strip good"' in _strip(viewer_client)
    worker.stop()
    time.sleep(1.1)  # the cached answer of the ping expires
    html = _strip(viewer_client)
    assert 'class="card health-strip bad"' in html
    assert f"No worker is consuming the queue {worker.queue}" in html


def test_overview_warns_when_no_worker_consumes_the_queue(viewer_client, isolated_queue):
    make_snapshot()
    assert "No worker is consuming the queue" in _strip(viewer_client)


def test_overview_warns_when_beat_missed_two_snapshots(viewer_client, isolated_queue, settings):
    settings.OPSDASH_SNAPSHOT_MINUTES = 5
    make_snapshot(age=timedelta(minutes=11))
    assert "Celery beat has missed two snapshots" in _strip(viewer_client)


def test_a_snapshot_within_two_intervals_is_not_stale(viewer_client, isolated_queue, settings):
    settings.OPSDASH_SNAPSHOT_MINUTES = 5
    make_snapshot(age=timedelta(minutes=9))
    assert "missed two snapshots" not in _strip(viewer_client)


def test_overview_shows_the_queue_length_and_warns_when_it_grew(viewer_client, isolated_queue, settings):
    make_snapshot()
    health.queue_grew(0, now=time.time() - 90)  # a reading a minute and a half ago: empty
    for _ in range(3):
        app.send_task("consistency.tasks.take_metrics_snapshot", queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    html = _strip(viewer_client)
    assert isolated_queue.queued() == 3
    assert "The queue has grown to 3 tasks in the last minute" in html


def test_a_queue_that_shrank_is_no_warning(viewer_client, isolated_queue, settings):
    make_snapshot()
    health.queue_grew(5, now=time.time() - 90)
    app.send_task("consistency.tasks.take_metrics_snapshot", queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    assert "The queue has grown" not in _strip(viewer_client)


def test_the_worker_ping_is_cached_between_polls(viewer_client, isolated_queue, monkeypatch):
    make_snapshot()
    pings = []
    real_ping = health.ping_workers
    monkeypatch.setattr(health, "ping_workers", lambda: pings.append(1) or real_ping())
    for _ in range(3):
        _strip(viewer_client)
    assert len(pings) == 1
