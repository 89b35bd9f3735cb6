"""Alert rules: an incident opens once, notifies once each way, and a failing destination is retried."""

from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from consistency.models import JobKind, JobRun, JobState
from interventions.models import Intervention
from monitoring import alerts
from monitoring.models import AlertRule, Destination, Incident, RuleKind
from tests.monitoring.conftest import WebhookReceiver, make_snapshot
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def rule(kind, destination, **fields):
    made = AlertRule.objects.create(name=fields.pop("name", kind), kind=kind, **fields)
    made.destinations.add(destination)
    return made


@pytest.fixture
def hook(webhook):
    return Destination.objects.create(name="ops webhook", apprise_url=webhook.apprise_url)


def evaluate(capture):
    """Evaluate the rules and run what they queue after commit (the deliveries)."""
    with capture(execute=True):
        return alerts.evaluate()


def incidents_in_database():
    with connections["default"].cursor() as cursor:
        cursor.execute("select key, cleared_at is null from monitoring_incident order by id")
        return cursor.fetchall()


def test_a_check_under_its_threshold_opens_an_incident_and_notifies_once(
    webhook, hook, isolated_queue, django_capture_on_commit_callbacks
):
    rule(RuleKind.CHECK_CONSISTENCY, hook, name="Bio under 95%", check_name="bio", threshold=95)
    make_snapshot(failing={"bio": 10})
    evaluate(django_capture_on_commit_callbacks)
    assert incidents_in_database() == [("bio", True)]
    assert len(webhook.received) == 1
    assert "Bio under 95%" in webhook.received[0]["title"]
    assert "bio: 90.0% of therapists pass, under 95%" in webhook.received[0]["message"]

    make_snapshot(failing={"bio": 8})  # still under: the incident stays open, silently
    evaluate(django_capture_on_commit_callbacks)
    assert incidents_in_database() == [("bio", True)]
    assert len(webhook.received) == 1


def test_an_incident_that_clears_notifies_once_more(webhook, hook, isolated_queue, django_capture_on_commit_callbacks):
    rule(RuleKind.CONSISTENT_PERCENT, hook, name="Consistency", threshold=95)
    make_snapshot(consistent=90)
    evaluate(django_capture_on_commit_callbacks)
    make_snapshot(consistent=99)
    evaluate(django_capture_on_commit_callbacks)
    evaluate(django_capture_on_commit_callbacks)
    assert incidents_in_database() == [("consistent", False)]
    assert [m["title"] for m in webhook.received] == [
        "[opsdash] Consistency: 90.0% of therapists are consistent, under 95%",
        "[opsdash] Cleared: Consistency",
    ]


def test_every_check_is_watched_when_the_rule_names_none(
    webhook, hook, isolated_queue, django_capture_on_commit_callbacks
):
    rule(RuleKind.CHECK_CONSISTENCY, hook, threshold=99)
    make_snapshot(failing={"bio": 5, "avatar": 2, "name": 1})
    evaluate(django_capture_on_commit_callbacks)
    assert sorted(key for key, _ in incidents_in_database()) == ["avatar", "bio"]
    assert len(webhook.received) == 2


def test_unresolved_interventions_reaching_the_target_open_an_incident(
    webhook, hook, isolated_queue, settings, django_capture_on_commit_callbacks
):
    settings.OPSDASH_INTERVENTION_TARGET = 2
    rule(RuleKind.INTERVENTIONS, hook)
    Intervention.objects.create(operation="avatar-sync", entity_id="a@example.com", error="x")
    evaluate(django_capture_on_commit_callbacks)
    assert incidents_in_database() == []
    Intervention.objects.create(operation="avatar-sync", entity_id="b@example.com", error="x")
    evaluate(django_capture_on_commit_callbacks)
    assert "2 unresolved interventions, target under 2" in webhook.received[0]["message"]


def test_a_failed_job_opens_an_incident_that_the_next_success_clears(
    webhook, hook, isolated_queue, django_capture_on_commit_callbacks
):
    rule(RuleKind.JOB_FAILED, hook, name="Jobs")
    JobRun.objects.create(
        kind=JobKind.RESYNC, state=JobState.FAILED, error="No therapist has the email x@example.com any more"
    )
    evaluate(django_capture_on_commit_callbacks)
    assert "failed: No therapist has the email x@example.com" in webhook.received[0]["message"]
    JobRun.objects.create(kind=JobKind.RESYNC, state=JobState.SUCCEEDED)
    evaluate(django_capture_on_commit_callbacks)
    assert incidents_in_database() == [("resync", False)]
    assert webhook.received[1]["title"] == "[opsdash] Cleared: Jobs"


def test_no_worker_and_a_stale_snapshot_open_incidents(
    webhook, hook, isolated_queue, settings, django_capture_on_commit_callbacks
):
    settings.OPSDASH_SNAPSHOT_MINUTES = 5
    rule(RuleKind.WORKER_MISSING, hook)
    rule(RuleKind.SNAPSHOT_STALE, hook)
    make_snapshot(age=timedelta(minutes=20))
    evaluate(django_capture_on_commit_callbacks)
    messages = sorted(m["message"] for m in webhook.received)
    assert "No worker consumes the queue" in messages[0]
    assert "The latest snapshot is 20 min old" in messages[1]


def test_a_regressed_intervention_opens_an_incident(webhook, hook, isolated_queue, django_capture_on_commit_callbacks):
    rule(RuleKind.INTERVENTION_REGRESSED, hook)
    Intervention.objects.create(operation="avatar-sync", entity_id="back@example.com", error="x", resolved=True)
    Intervention.objects.create(operation="avatar-sync", entity_id="back@example.com", error="x again")
    Intervention.objects.create(operation="avatar-sync", entity_id="new@example.com", error="x")
    evaluate(django_capture_on_commit_callbacks)
    assert (
        "1 interventions are back after being resolved: avatar-sync of back@example.com"
        in webhook.received[0]["message"]
    )


def test_an_email_destination_gets_the_notification(mailoutbox, isolated_queue, django_capture_on_commit_callbacks):
    mail = Destination.objects.create(name="ops mail", email="ops@example.com")
    rule(RuleKind.CONSISTENT_PERCENT, mail, threshold=95)
    make_snapshot(consistent=50)
    evaluate(django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ops@example.com"]
    assert "50.0% of therapists are consistent" in mailoutbox[0].body


def test_a_failed_delivery_is_recorded_and_retried_later(isolated_queue, django_capture_on_commit_callbacks):
    receiver = WebhookReceiver(failures=1)
    try:
        hook = Destination.objects.create(name="flaky", apprise_url=receiver.apprise_url)
        rule(RuleKind.CONSISTENT_PERCENT, hook, threshold=95)
        make_snapshot(consistent=50)
        evaluate(django_capture_on_commit_callbacks)
        assert receiver.received == []
        with connections["default"].cursor() as cursor:
            cursor.execute("select state, attempts from monitoring_notification")
            assert cursor.fetchall() == [("failed", 1)]
        alerts.retry_failed()
        assert len(receiver.received) == 1
        with connections["default"].cursor() as cursor:
            cursor.execute("select state, attempts, error from monitoring_notification")
            assert cursor.fetchall() == [("sent", 2, "")]
    finally:
        receiver.stop()


def test_open_incidents_show_on_the_overview_with_who_acknowledged(
    sam, viewer_client, hook, isolated_queue, django_capture_on_commit_callbacks
):
    rule(RuleKind.CONSISTENT_PERCENT, hook, name="Consistency under 95%", threshold=95)
    make_snapshot(consistent=50)
    evaluate(django_capture_on_commit_callbacks)
    incident = Incident.objects.get()
    html = viewer_client.get(reverse("consistency:overview")).content.decode()
    assert "Consistency under 95%" in html
    assert "not acknowledged" in html
    admin = Client()
    admin.force_login(sam)
    admin.post(
        reverse("admin:monitoring_incident_changelist"), {"action": "acknowledge", "_selected_action": [incident.pk]}
    )
    html = viewer_client.get(reverse("consistency:overview")).content.decode()
    assert "acknowledged by sam" in html


def test_the_admin_refuses_a_destination_apprise_does_not_know(superuser_client):
    response = superuser_client.post(
        reverse("admin:monitoring_destination_add"), {"name": "bad", "apprise_url": "nonsense://x", "enabled": "on"}
    )
    assert "Apprise does not recognise this URL." in response.content.decode()
    assert not Destination.objects.exists()


@pytest.mark.worker
def test_a_snapshot_taken_by_the_worker_alerts_and_a_failing_destination_is_retried(start_worker, monkeypatch):
    monkeypatch.setenv("OPSDASH_ALERT_RETRY_SECONDS", "1")
    receiver = WebhookReceiver(failures=2)
    try:
        hook = Destination.objects.create(name="flaky", apprise_url=receiver.apprise_url)
        rule(RuleKind.CONSISTENT_PERCENT, hook, name="Consistency under 99%", threshold=99)
        from consistency.tasks import take_metrics_snapshot
        from tests.factories import make_therapist

        make_therapist()
        make_therapist(profile={"bio": "Old bio"})
        worker = start_worker(pool="prefork", concurrency=2)
        take_metrics_snapshot.apply_async(queue=worker.queue)
        wait_for(lambda: receiver.received, timeout=60, what="the notification to arrive")
        assert receiver.attempts == 3
        assert "50.0% of therapists are consistent" in receiver.received[0]["message"]
        with connections["default"].cursor() as cursor:
            cursor.execute("select state, attempts from monitoring_notification")
            assert cursor.fetchall() == [("sent", 3)]
    finally:
        receiver.stop()
