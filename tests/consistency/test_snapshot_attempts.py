"""
The overview follows the snapshot asked for with Refresh now, and says when the last
snapshot failed, when and why, instead of promising one forever.
"""

from datetime import timedelta

import pytest
from django.db import ProgrammingError, connections, transaction
from django.urls import reverse
from django.utils import timezone

from consistency.models import AttemptState, SnapshotAttempt
from consistency.reporting.snapshots import take_snapshot
from consistency.tasks import take_metrics_snapshot
from opsdash.celery import app
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def live(client):
    return client.get(
        reverse("consistency:overview_live") + "?every=30", headers={"HX-Request": "true"}
    ).content.decode()


def test_refresh_now_is_followed_every_second_until_its_snapshot_brings_the_figures(operator_client, isolated_queue):
    make_therapist()
    operator_client.post(reverse("consistency:refresh_snapshot"))
    assert isolated_queue.queued() == 1
    [attempt] = SnapshotAttempt.objects.all()
    html = live(operator_client)
    assert "A new snapshot is on its way" in html
    assert 'hx-trigger="every 1s [' in html
    assert "No metrics yet" in html

    take_metrics_snapshot(attempt.pk)  # as the worker runs it

    html = live(operator_client)
    assert "on its way" not in html
    assert 'hx-trigger="every 30s [' in html
    assert "Figures computed at" in html
    attempt.refresh_from_db()
    assert attempt.state == AttemptState.SUCCEEDED and attempt.snapshot.therapists == 1


def test_refresh_now_is_followed_even_while_the_live_refresh_is_paused(operator_client, isolated_queue):
    operator_client.post(reverse("consistency:refresh_snapshot"))
    html = operator_client.get(
        reverse("consistency:overview_live") + "?every=0", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'hx-trigger="every 1s [' in html


def failed_snapshot():
    """Take a snapshot while the platform lacks a table it reads; the failure is rolled back."""
    with pytest.raises(ProgrammingError), transaction.atomic(using="platform"):
        with connections["platform"].cursor() as cursor:
            cursor.execute("alter table therapist_profiles rename to therapist_profiles_away")
        take_snapshot()


def test_a_failed_snapshot_is_shown_with_when_and_why(viewer_client):
    failed_snapshot()
    [attempt] = SnapshotAttempt.objects.all()
    assert attempt.state == AttemptState.FAILED and attempt.finished_at
    html = live(viewer_client)
    assert "The last snapshot failed at" in html
    assert attempt.finished_at.strftime("%Y-%m-%d %H:%M:%S") in html
    assert "ProgrammingError: relation &quot;therapist_profiles&quot; does not exist" in html


def test_a_failure_before_the_latest_snapshot_is_no_longer_shown(viewer_client):
    failed_snapshot()
    take_snapshot()
    assert "The last snapshot failed" not in live(viewer_client)


def test_the_reason_of_a_failure_is_escaped_and_kept_short(viewer_client):
    SnapshotAttempt.objects.create(
        state=AttemptState.FAILED, finished_at=timezone.now(), error="<script>alert(1)</script>" + "x" * 400
    )
    html = live(viewer_client)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "x" * 200 not in html.split('title="')[0]


def test_a_snapshot_never_taken_is_reported_lost_and_no_longer_followed(viewer_client):
    SnapshotAttempt.objects.create(requested_at=timezone.now() - timedelta(hours=1))
    html = live(viewer_client)
    assert "has not been taken after" in html and "is a Celery worker running?" in html
    assert "on its way" not in html
    assert 'hx-trigger="every 30s [' in html


def test_refresh_now_with_the_queue_down_says_so_and_records_the_failure(operator_client, monkeypatch):
    # Nothing listens on port 1: the broker is down as far as publishing goes.
    monkeypatch.setattr(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    html = operator_client.post(reverse("consistency:refresh_snapshot"), follow=True).content.decode()
    assert "The queue is unavailable, no snapshot was queued" in html
    assert "on its way" not in html
    attempt = SnapshotAttempt.objects.get()
    assert attempt.state == AttemptState.FAILED and "unavailable" in attempt.error


def test_the_admin_lists_snapshot_attempts_read_only(superuser_client):
    SnapshotAttempt.objects.create(state=AttemptState.FAILED, finished_at=timezone.now(), error="Boom: no table")
    html = superuser_client.get(reverse("admin:consistency_snapshotattempt_changelist")).content.decode()
    assert "Boom: no table" in html
    assert superuser_client.get(reverse("admin:consistency_snapshotattempt_add")).status_code == 403
