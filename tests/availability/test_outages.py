"""
Pages and actions when the platform database or Redis is down (refuses) or hangs (accepts and never answers).

A proxy (tests/proxy.py) stands between opsdash and the real server. Every page must
answer within a few seconds, never with a 500, say what is unavailable and since
when, and keep showing what opsdash's own database knows.
"""

import time
from datetime import timedelta

import pytest
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from availability.models import Outage, Service
from consistency.models import JobKind, JobRun, JobState, MetricSnapshot
from tests.factories import make_therapist
from tests.test_permissions import pages

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "platform"])

# Loose on purpose: the bound is the connect timeout (3 s) once or twice, on a shared machine.
WITHIN = 10
PLATFORM_BANNER = "The platform database is unavailable"
QUEUE_BANNER = "The job queue (Redis) is unavailable"
# Pages that show the banner (the others are fragments, the CSV, or the 503 page that names the service).
FULL_PAGES = {"consistency:overview", "consistency:trends", "consistency:drilldown", "consistency:jobs",
              "consistency:job", "consistency:safety_net", "interventions:queue", "consistency:overview_live"}  # fmt: skip


@pytest.fixture
def known_to_opsdash():
    """What opsdash's own database holds: a snapshot (7 unresolved interventions) and a finished job."""
    snapshot = MetricSnapshot.objects.create(
        taken_at=timezone.now(),
        therapists=4321,
        consistent=4000,
        inconsistent={"bio": 321},
        link_problems={"missing_profile": 12},
        unresolved_interventions=7,
    )
    job = JobRun.objects.create(kind=JobKind.REPAIR_ALL, state=JobState.SUCCEEDED)
    return snapshot, job


def timed_get(client, url):
    """Return the response, its body (a stream read to the end) and how long it took."""
    started = time.monotonic()
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body.decode(), time.monotonic() - started


@pytest.mark.parametrize("failure", ["refuse", "stall"])
def test_every_page_answers_within_seconds_without_a_500_when_the_platform_fails(
    failure, platform_proxy, superuser_client, known_to_opsdash
):
    _, job = known_to_opsdash
    getattr(platform_proxy, failure)()
    for name, args, query in pages(job):
        # Each page tries the platform afresh, and waits for it, as after the recheck interval.
        Outage.objects.update(checked_at=timezone.now() - timedelta(hours=1))
        connections["platform"].close()
        url = reverse(name, args=args) + query
        response, page, elapsed = timed_get(superuser_client, url)
        assert response.status_code in (200, 503), f"{url}: {response.status_code}"
        assert elapsed < WITHIN, f"{url} took {elapsed:.1f} s"
        if name in FULL_PAGES and "_export" not in query or response.status_code == 503:
            assert PLATFORM_BANNER in page, url


def test_the_overview_shows_the_latest_snapshot_and_jobs_while_the_platform_hangs(
    platform_proxy, superuser_client, known_to_opsdash
):
    _, job = known_to_opsdash
    platform_proxy.stall()
    response, page, elapsed = timed_get(superuser_client, reverse("consistency:overview"))
    assert response.status_code == 200 and elapsed < WITHIN
    assert PLATFORM_BANNER in page and "since" in page
    assert "4321" in page  # therapists of the snapshot
    assert "as the snapshot of" in page and ">7<" in page  # its unresolved interventions
    assert f"#{job.pk}" in page  # the recent job
    assert "Unknown: the platform database is unavailable." in page  # the safety net


def test_a_second_page_skips_a_platform_known_to_be_down(platform_proxy, superuser_client, known_to_opsdash):
    platform_proxy.stall()
    timed_get(superuser_client, reverse("consistency:overview"))
    connections["platform"].close()
    response, page, elapsed = timed_get(superuser_client, reverse("interventions:queue"))
    assert response.status_code == 200
    assert elapsed < 1, "the queue waited for a platform that failed a moment ago"
    assert "counted" in page and "<strong>7</strong>" in page


def test_the_banner_says_since_when_and_goes_once_the_platform_answers_again(
    platform_proxy, superuser_client, known_to_opsdash, settings
):
    settings.OPSDASH_OUTAGE_RECHECK_SECONDS = 0
    platform_proxy.refuse()
    superuser_client.get(reverse("consistency:overview"))
    outage = Outage.objects.get(service=Service.PLATFORM)
    assert "refused" in outage.error.lower() or "connection" in outage.error.lower()
    page = superuser_client.get(reverse("consistency:jobs")).content.decode()
    assert f"since {timezone.localtime(outage.since):%Y-%m-%d %H:%M}" in page

    platform_proxy.forward()
    connections["platform"].close()
    page = superuser_client.get(reverse("consistency:overview")).content.decode()
    assert PLATFORM_BANNER not in page
    assert not Outage.objects.exists()


def test_an_action_on_the_platform_gives_a_message_not_a_500_when_it_is_down(platform_proxy, operator_client):
    platform_proxy.refuse()
    started = time.monotonic()
    response = operator_client.post(
        reverse("interventions:resolve"),
        {"action": "resolve", "operation": "avatar-sync", "entity_id": "x@example.com", "note": "done"},
        HTTP_REFERER="http://testserver" + reverse("interventions:queue"),
    )
    assert time.monotonic() - started < WITHIN
    assert response.status_code == 302
    page = operator_client.get(response["Location"]).content.decode()
    assert "The platform database is unavailable: nothing was done." in page


@pytest.mark.parametrize("failure", ["refuse", "stall"])
def test_a_resync_says_the_queue_is_unavailable_within_seconds_when_redis_fails(
    failure, redis_proxy, operator_client, known_to_opsdash
):
    make_therapist("ana@example.com")
    getattr(redis_proxy, failure)()
    started = time.monotonic()
    response = operator_client.post(reverse("consistency:resync"), {"email": "ana@example.com"}, follow=True)
    elapsed = time.monotonic() - started
    page = response.content.decode()
    assert response.status_code == 200
    assert elapsed < WITHIN, f"the resync took {elapsed:.1f} s"
    assert "is unavailable" in page and "Nothing was changed" in page
    job = JobRun.objects.get(kind=JobKind.RESYNC)
    assert job.state == JobState.FAILED
    # Every page says so from then on, and still shows opsdash's own data.
    overview = operator_client.get(reverse("consistency:overview")).content.decode()
    assert QUEUE_BANNER in overview and "4321" in overview


def test_refresh_now_says_the_queue_is_unavailable_when_redis_hangs(redis_proxy, operator_client):
    redis_proxy.stall()
    started = time.monotonic()
    response = operator_client.post(reverse("consistency:refresh_snapshot"), follow=True)
    assert time.monotonic() - started < WITHIN
    assert "no snapshot was queued" in response.content.decode().lower()
    assert QUEUE_BANNER in response.content.decode()


@pytest.mark.parametrize("failure", ["refuse", "stall"])
def test_every_page_answers_within_seconds_when_redis_fails(failure, redis_proxy, superuser_client, known_to_opsdash):
    _, job = known_to_opsdash
    getattr(redis_proxy, failure)()
    for name, args, query in pages(job):
        url = reverse(name, args=args) + query
        response, _, elapsed = timed_get(superuser_client, url)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        assert elapsed < WITHIN, f"{url} took {elapsed:.1f} s"
