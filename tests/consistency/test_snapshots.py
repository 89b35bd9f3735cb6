"""Snapshots: one pass of the checks for the metrics and the drill-down; never two at once from the schedule."""

import psycopg
import pytest

from consistency.engine.checks import compute_metrics
from consistency.models import MetricSnapshot
from consistency.platform.seed import seed_platform
from consistency.reporting import snapshots
from tests.worker import database_url

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def test_a_snapshot_counts_what_the_full_pass_of_the_checks_counts():
    seed_platform(300, 0.3, seed=3, replace=True)
    expected = compute_metrics()
    snapshot = snapshots.take_snapshot().as_metrics()
    for key in ("therapists", "consistent", "inconsistent", "link_problems", "unresolved_interventions"):
        assert snapshot[key] == expected[key], key
    assert 0 < snapshot["consistent"] < snapshot["therapists"] == 300


def test_the_schedule_never_starts_a_snapshot_while_one_runs():
    running = psycopg.connect(database_url("default").replace("postgres://", "postgresql://"), autocommit=True)
    try:
        running.execute("select pg_advisory_lock(%s)", [snapshots._SCHEDULED_LOCK])
        assert snapshots.take_scheduled_snapshot() is None
        assert not MetricSnapshot.objects.exists()
    finally:
        running.execute("select pg_advisory_unlock(%s)", [snapshots._SCHEDULED_LOCK])
        running.close()
    assert snapshots.take_scheduled_snapshot() is not None
    assert MetricSnapshot.objects.count() == 1
    # The lock is released once the snapshot is taken.
    assert snapshots.take_scheduled_snapshot() is not None
