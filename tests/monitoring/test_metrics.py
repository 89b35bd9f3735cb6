"""/metrics: the Prometheus text format, from the latest snapshot and opsdash's own tables, behind a token."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from consistency.models import JobKind, JobRun, JobState
from interventions.models import Intervention

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

TOKEN = "scrape-secret-1"


@pytest.fixture
def metrics_token(settings):
    settings.OPSDASH_METRICS_TOKEN = TOKEN
    settings.OPSDASH_METRICS_ALLOWED_IPS = []


def scrape(client, token=TOKEN, **extra):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get("/metrics", headers=headers, **extra)
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_a_scrape_with_the_token_parses_and_carries_the_latest_snapshot(
    client, metrics_token, fresh_snapshot, isolated_queue
):
    samples = scrape(client)
    assert samples[("opsdash_therapists", ())] == 100
    assert samples[("opsdash_consistent_therapists", ())] == 90
    assert samples[("opsdash_inconsistent_therapists", (("check", "bio"),))] == 10
    assert samples[("opsdash_inconsistent_therapists", (("check", "avatar"),))] == 0
    assert samples[("opsdash_link_problems", (("problem", "duplicate_user"),))] == 0
    assert samples[("opsdash_unresolved_interventions", ())] == 2
    assert samples[("opsdash_snapshot_duration_seconds", ())] == 1.5
    assert 0 <= samples[("opsdash_snapshot_age_seconds", ())] < 60
    assert samples[("opsdash_workers_online", ())] == 0
    assert samples[("opsdash_queue_length", ())] == 0


def test_jobs_are_counted_by_kind_and_state_with_the_last_repair_all(
    client, metrics_token, fresh_snapshot, isolated_queue
):
    now = timezone.now()
    JobRun.objects.create(kind=JobKind.RESYNC, state=JobState.FAILED)
    JobRun.objects.create(kind=JobKind.RESYNC, state=JobState.SUCCEEDED)
    JobRun.objects.create(kind=JobKind.RESYNC, state=JobState.SUCCEEDED)
    JobRun.objects.create(
        kind=JobKind.REPAIR_ALL,
        state=JobState.SUCCEEDED,
        started_at=now - timedelta(seconds=42),
        finished_at=now,
        rows_changed={"users": {"avatar_url": 3}, "therapist_profiles": {"bio": 4}},
    )
    samples = scrape(client)
    assert samples[("opsdash_jobs", (("kind", "resync"), ("state", "succeeded")))] == 2
    assert samples[("opsdash_jobs", (("kind", "resync"), ("state", "failed")))] == 1
    assert samples[("opsdash_jobs", (("kind", "repair_all"), ("state", "running")))] == 0
    assert samples[("opsdash_last_repair_all_duration_seconds", ())] == 42
    assert samples[("opsdash_last_repair_all_rows_changed", ())] == 7


def test_the_oldest_unresolved_intervention_has_its_age(client, metrics_token, fresh_snapshot, isolated_queue):
    Intervention.objects.create(
        operation="avatar-sync", entity_id="a@example.com", error="x", timestamp=timezone.now() - timedelta(hours=2)
    )
    Intervention.objects.create(
        operation="avatar-sync",
        entity_id="b@example.com",
        error="x",
        timestamp=timezone.now() - timedelta(days=9),
        resolved=True,
    )
    age = scrape(client)[("opsdash_oldest_unresolved_intervention_age_seconds", ())]
    assert 2 * 3600 <= age < 2 * 3600 + 60


def test_a_scrape_without_the_token_is_refused(client, metrics_token, fresh_snapshot):
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b"opsdash_therapists" not in response.content


def test_a_wrong_token_is_refused(client, metrics_token, fresh_snapshot):
    assert client.get("/metrics", headers={"Authorization": "Bearer guess"}).status_code == 403


def test_with_no_token_configured_nobody_may_scrape(client, settings, fresh_snapshot):
    settings.OPSDASH_METRICS_TOKEN = ""
    settings.OPSDASH_METRICS_ALLOWED_IPS = []
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403


def test_an_allowed_network_scrapes_without_a_token(client, settings, fresh_snapshot, isolated_queue):
    settings.OPSDASH_METRICS_TOKEN = ""
    settings.OPSDASH_METRICS_ALLOWED_IPS = ["10.1.0.0/16"]
    assert scrape(client, token=None, REMOTE_ADDR="10.1.2.3")[("opsdash_therapists", ())] == 100
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, databases=["default", "platform"])
def test_a_running_worker_is_counted_online(client, metrics_token, start_worker):
    from tests.monitoring.conftest import make_snapshot

    start_worker()
    make_snapshot()
    assert scrape(client)[("opsdash_workers_online", ())] == 1
