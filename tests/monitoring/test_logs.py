"""Structured logs: one JSON object per line, an event per job step; Celery task events for Flower."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.urls import reverse

from consistency.tasks import take_metrics_snapshot
from opsdash.celery import app
from tests.factories import make_therapist
from tests.opsdash.test_settings import settings_in_a_fresh_process
from tests.worker import database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "platform"])


def manage_with_json_logs(*args, **env):
    """Run a management command against the test databases with OPSDASH_LOG_FORMAT=json; return stderr's lines."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url("default"),
        "PLATFORM_DATABASE_URL": database_url("platform"),
        "OPSDASH_LOG_FORMAT": "json",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


def test_every_log_line_of_a_resync_is_one_json_object_with_the_job_and_its_counts(committed_platform):
    make_therapist(email="logged@example.com", profile={"bio": "Stale."})
    lines = manage_with_json_logs("repair_consistency", "--sync", "--email", "logged@example.com")
    records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    events = [r for r in records if r.get("logger") == "opsdash.events"]
    assert [e["event"] for e in events] == ["job.queued", "audit.resync", "job.running", "job.succeeded"]
    assert {e["job_id"] for e in events} == {events[0]["job_id"]}
    assert {e["operator"] for e in events} == {"opsdash"}
    finished = events[-1]
    assert (finished["therapists"], finished["therapists_changed"], finished["therapists_failed"]) == (1, 1, 0)
    assert finished["level"] == "INFO" and finished["message"] == "1 values changed"


def test_each_chunk_of_a_repair_all_is_an_event_with_its_counts(committed_platform):
    for _ in range(3):
        make_therapist(profile={"bio": "Stale."})
    lines = manage_with_json_logs("repair_consistency", "--sync", "--dry-run", OPSDASH_REPAIR_CHUNK_SIZE="2")
    records = [json.loads(line) for line in lines if line.startswith("{")]  # the rest is the progress bar
    chunks = [r for r in records if r.get("event") == "job.chunk"]
    assert len(chunks) >= 2
    assert sum(c["therapists_changed"] for c in chunks) == 3
    assert {c["state"] for c in chunks} == {"done"}
    assert records[-1]["event"] == "job.succeeded"


def test_a_log_format_other_than_text_or_json_stops_the_start():
    result = settings_in_a_fresh_process("LOGGING", OPSDASH_LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "OPSDASH_LOG_FORMAT must be text or json" in result.stderr


@pytest.mark.worker
def test_the_worker_sends_task_events_with_the_task_name_for_flower(start_worker):
    worker = start_worker()
    seen = []

    def listen():
        with app.connection_for_read() as connection:
            receiver = app.events.Receiver(connection, handlers={"*": seen.append})
            try:
                receiver.capture(limit=None, timeout=30, wakeup=False)
            except Exception:  # the capture's timeout ends the thread
                pass

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()

    def a_task_went_through():
        # The receiver binds its queue in its own thread: send until one task's events arrive.
        take_metrics_snapshot.apply_async(queue=worker.queue)
        time.sleep(0.5)
        return {"task-sent", "task-received", "task-succeeded"} <= {e["type"] for e in seen}

    wait_for(a_task_went_through, timeout=30, what="a task's events")
    received = [e for e in seen if e["type"] == "task-received"]
    assert received[0]["name"] == "consistency.tasks.take_metrics_snapshot"


def test_resolving_an_intervention_is_one_event_naming_the_operator(operator_client, caplog):
    from interventions.models import Intervention

    Intervention.objects.create(operation="avatar-sync", entity_id="x@example.com", error="failed")
    with caplog.at_level("INFO", logger="opsdash.events"):
        operator_client.post(
            reverse("interventions:resolve"),
            {"action": "resolve", "operation": "avatar-sync", "entity_id": "x@example.com", "note": "fixed by hand"},
        )
    events = [r for r in caplog.records if getattr(r, "event", "") == "audit.resolve"]
    assert len(events) == 1
    assert (events[0].operator, events[0].target) == ("olivia", "x@example.com")
