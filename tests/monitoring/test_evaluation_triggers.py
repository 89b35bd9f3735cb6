"""When the rules are evaluated: after each snapshot and finished job, from the overview, and from cron."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from consistency.models import JobEvent, JobKind, JobRun, JobState
from monitoring.models import AlertRule, Destination, RuleKind
from tests.monitoring.conftest import make_snapshot
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def worker_missing_rule(webhook):
    rule = AlertRule.objects.create(name="No worker", kind=RuleKind.WORKER_MISSING)
    rule.destinations.add(Destination.objects.create(name="hook", apprise_url=webhook.apprise_url))
    return rule


def test_a_snapshot_and_a_finished_job_each_queue_one_evaluation(
    worker_missing_rule, isolated_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_snapshot()
    assert isolated_queue.queued() == 1
    job = JobRun.objects.create(kind=JobKind.RESYNC)
    with django_capture_on_commit_callbacks(execute=True):
        JobEvent.objects.create(job=job, state=JobState.RUNNING, message="Started")
    assert isolated_queue.queued() == 1  # a job still running is not evaluated
    with django_capture_on_commit_callbacks(execute=True):
        JobEvent.objects.create(job=job, state=JobState.FAILED, message="boom")
    assert isolated_queue.queued() == 2


def test_without_any_rule_nothing_more_is_queued(isolated_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_snapshot()
    assert isolated_queue.queued() == 0


@pytest.mark.django_db(transaction=True, databases=["default", "platform"])
def test_the_overview_notices_a_missing_worker_itself(viewer_client, worker_missing_rule, webhook, isolated_queue):
    make_snapshot()
    viewer_client.get(reverse("consistency:overview"))
    wait_for(lambda: webhook.received, timeout=15, what="the notification")
    assert "No worker consumes the queue" in webhook.received[0]["message"]
    viewer_client.get(reverse("consistency:overview"))  # within the minute: not evaluated again
    assert len(webhook.received) == 1


def test_the_evaluate_alerts_command_notices_a_missing_worker(
    worker_missing_rule, webhook, isolated_queue, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # cron runs it in autocommit
        call_command("evaluate_alerts")
    assert "1 notifications created" in capsys.readouterr().out
    assert "No worker consumes the queue" in webhook.received[0]["message"]
