"""The daily digest: consistency per check today, yesterday and last week; interventions; jobs."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from consistency.models import JobKind, JobRun, JobState
from interventions.models import Intervention
from monitoring import digest
from monitoring.models import Destination
from tests.monitoring.conftest import make_snapshot
from tests.opsdash.test_settings import settings_in_a_fresh_process

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def a_week_of_history():
    """Bio passing 50% a week ago, 80% yesterday, 90% today; interventions and jobs of the last day and before."""
    make_snapshot(age=timedelta(days=7, minutes=5), consistent=40, failing={"bio": 50})
    make_snapshot(age=timedelta(days=1, minutes=5), consistent=70, failing={"bio": 20})
    make_snapshot(age=timedelta(minutes=5), consistent=85, failing={"bio": 10})
    now = timezone.now()
    Intervention.objects.create(
        operation="avatar-sync", entity_id="a@example.com", error="x", timestamp=now - timedelta(hours=3)
    )
    Intervention.objects.create(
        operation="avatar-sync", entity_id="b@example.com", error="x", timestamp=now - timedelta(hours=5),
        resolved=True, resolved_at=now - timedelta(hours=1),
    )  # fmt: skip
    Intervention.objects.create(
        operation="avatar-sync", entity_id="c@example.com", error="x", timestamp=now - timedelta(days=3)
    )
    JobRun.objects.create(kind=JobKind.RESYNC, state=JobState.SUCCEEDED)
    JobRun.objects.create(kind=JobKind.RESYNC, state=JobState.SUCCEEDED)
    JobRun.objects.create(kind=JobKind.REPAIR_ALL, state=JobState.FAILED)
    old = JobRun.objects.create(kind=JobKind.REPAIR_ALL, state=JobState.SUCCEEDED)
    JobRun.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=2))


def test_the_digest_compares_each_check_with_yesterday_and_last_week(a_week_of_history, mailoutbox):
    Destination.objects.create(name="ops mail", email="ops@example.com", receives_digest=True)
    assert digest.send_digest() == 1
    body = mailoutbox[0].body
    assert mailoutbox[0].subject.startswith("[opsdash] Daily digest")
    lines = body.splitlines()
    assert next(line for line in lines if line.startswith("bio")).split() == ["bio", "90.0%", "80.0%", "50.0%"]
    assert next(line for line in lines if line.startswith("consistent")).split() == [
        "consistent",
        "85.0%",
        "70.0%",
        "40.0%",
    ]
    assert next(line for line in lines if line.startswith("avatar")).split() == ["avatar", "100.0%", "100.0%", "100.0%"]
    assert "Interventions in the last 24 h: 2 opened, 1 resolved." in body
    assert "  repair_all failed: 1" in body
    assert "  resync succeeded: 2" in body
    assert "repair_all succeeded" not in body


def test_the_digest_goes_through_apprise_only_to_destinations_that_receive_it(a_week_of_history, webhook, mailoutbox):
    Destination.objects.create(name="digest hook", apprise_url=webhook.apprise_url, receives_digest=True)
    Destination.objects.create(name="alerts only", email="pager@example.com")
    Destination.objects.create(name="disabled", email="off@example.com", receives_digest=True, enabled=False)
    assert digest.send_digest() == 1
    assert mailoutbox == []
    assert "bio" in webhook.received[0]["message"]


def test_a_day_without_history_says_so(mailoutbox):
    Destination.objects.create(name="ops mail", email="ops@example.com", receives_digest=True)
    digest.send_digest()
    body = mailoutbox[0].body
    assert next(line for line in body.splitlines() if line.startswith("bio")).split() == ["bio", "–", "–", "–"]
    assert "No job ran in the last 24 h." in body


def test_beat_sends_the_digest_at_the_configured_hour():
    result = settings_in_a_fresh_process("CELERY_BEAT_SCHEDULE", OPSDASH_DIGEST_HOUR="7")
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)["CELERY_BEAT_SCHEDULE"]["daily-digest"]
    assert entry["task"] == "monitoring.tasks.send_daily_digest"
    assert "<crontab: 0 7 * * * (m/h/dM/MY/d)>" == entry["schedule"]


def test_no_digest_hour_schedules_no_digest():
    result = settings_in_a_fresh_process("CELERY_BEAT_SCHEDULE", OPSDASH_DIGEST_HOUR="")
    assert "daily-digest" not in json.loads(result.stdout)["CELERY_BEAT_SCHEDULE"]


def test_an_hour_out_of_range_stops_the_start():
    result = settings_in_a_fresh_process("CELERY_BEAT_SCHEDULE", OPSDASH_DIGEST_HOUR="25")
    assert result.returncode != 0
    assert "OPSDASH_DIGEST_HOUR must be an hour from 0 to 23" in result.stderr
