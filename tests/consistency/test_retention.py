"""
The snapshot tables stay bounded: old snapshot attempts go, old metric snapshots are
thinned to what the trends draw. What is left is read back with SQL on a connection
of its own.
"""

import json
from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone

from consistency.models import AttemptState, MetricSnapshot, SnapshotAttempt
from consistency.reporting import trends
from consistency.reporting.retention import _PRUNE_LOCK, Pruned, prune_snapshots
from consistency.tasks import take_metrics_snapshot
from tests.opsdash.test_settings import settings_in_a_fresh_process
from tests.worker import database_url

pytestmark = pytest.mark.django_db(databases=["default", "platform"], transaction=True)


def rows(sql):
    with psycopg.connect(database_url("default").replace("postgres://", "postgresql://")) as connection:
        return connection.execute(sql).fetchall()


def attempt(ago, **fields):
    at = timezone.now() - ago
    return SnapshotAttempt.objects.create(
        **{"requested_at": at, "finished_at": at, "state": AttemptState.SUCCEEDED, **fields}
    ).pk


def snapshot_at(taken_at, consistent=100):
    return MetricSnapshot.objects.create(
        taken_at=taken_at, therapists=100, consistent=consistent, inconsistent={}, link_problems={}
    ).pk


def snapshot(ago, consistent=100):
    return snapshot_at(timezone.now() - ago, consistent)


def an_hour_ten_days_ago():
    return timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=10)


def test_the_periodic_snapshot_deletes_the_attempts_asked_for_more_than_a_week_ago(committed_platform):
    old = [attempt(timedelta(days=d)) for d in (8, 30)]
    stuck = attempt(timedelta(days=10), state=AttemptState.QUEUED, finished_at=None)
    recent = [attempt(timedelta(days=d)) for d in (6, 1)]

    take_metrics_snapshot()  # as Celery beat runs it

    left = [pk for (pk,) in rows("select id from consistency_snapshotattempt order by id")]
    assert not set(old + [stuck]) & set(left)
    assert set(recent) <= set(left)
    assert len(left) == 3  # the two recent ones and the attempt of this snapshot
    assert rows("select count(*) from consistency_metricsnapshot") == [(1,)]


def test_the_attempts_retention_is_a_setting(settings):
    settings.OPSDASH_SNAPSHOT_ATTEMPTS_DAYS = 30
    kept, gone = attempt(timedelta(days=29)), attempt(timedelta(days=31))

    assert prune_snapshots().attempts == 1

    assert rows("select id from consistency_snapshotattempt") == [(kept,)]
    assert rows(f"select count(*) from consistency_snapshotattempt where id = {gone}") == [(0,)]


def test_metric_snapshots_are_all_kept_for_a_week_then_the_latest_of_each_hour_and_none_past_90_days():
    this_week = [snapshot(timedelta(minutes=m)) for m in (0, 5, 10, 15)] + [snapshot(timedelta(days=6, hours=23))]
    hour = an_hour_ten_days_ago()
    earlier = [snapshot_at(hour + timedelta(minutes=m), consistent=m) for m in (0, 5, 55)]
    latest_of_hour = snapshot_at(hour + timedelta(minutes=59), consistent=59)
    next_hour = snapshot_at(hour + timedelta(minutes=60))
    past_horizon = [snapshot(timedelta(days=91)), snapshot(timedelta(days=365))]

    assert prune_snapshots().snapshots == len(earlier) + len(past_horizon)

    left = {pk for (pk,) in rows("select id from consistency_metricsnapshot")}
    assert left == set(this_week) | {latest_of_hour, next_hour}


def test_thinning_keeps_exactly_the_points_the_90_day_trend_draws_even_in_a_half_hour_time_zone(settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30: its hours are not UTC's
    # A snapshot every 10 minutes over two days, three weeks ago.
    for step in range(2 * 24 * 6):
        snapshot(timedelta(days=21, minutes=10 * step), consistent=step % 100)
    drawn_before = trends.series(trends.snapshots_since(90))

    pruned = prune_snapshots()

    assert pruned.snapshots > 0
    assert trends.series(trends.snapshots_since(90)) == drawn_before
    [(count,)] = rows("select count(*) from consistency_metricsnapshot")
    assert count == len(drawn_before["times"])


def test_an_attempt_whose_snapshot_was_thinned_keeps_its_record(settings):
    settings.OPSDASH_SNAPSHOT_ATTEMPTS_DAYS = 30
    hour = an_hour_ten_days_ago()
    thinned = snapshot_at(hour)
    snapshot_at(hour + timedelta(minutes=30))
    kept = attempt(timezone.now() - hour, snapshot_id=thinned)

    prune_snapshots()

    assert rows(f"select state, snapshot_id from consistency_snapshotattempt where id = {kept}") == [
        ("succeeded", None)
    ]
    assert rows(f"select count(*) from consistency_metricsnapshot where id = {thinned}") == [(0,)]


def test_the_retention_defaults_to_a_week_of_attempts_and_90_days_of_snapshots_and_refuses_zero():
    defaults = settings_in_a_fresh_process("OPSDASH_SNAPSHOT_ATTEMPTS_DAYS", "OPSDASH_SNAPSHOT_DAYS")
    assert json.loads(defaults.stdout) == {"OPSDASH_SNAPSHOT_ATTEMPTS_DAYS": 7, "OPSDASH_SNAPSHOT_DAYS": 90}

    zero = settings_in_a_fresh_process("OPSDASH_SNAPSHOT_DAYS", OPSDASH_SNAPSHOT_DAYS="0")
    assert zero.returncode != 0
    assert "OPSDASH_SNAPSHOT_ATTEMPTS_DAYS and OPSDASH_SNAPSHOT_DAYS must be at least 1" in zero.stderr


def test_a_prune_that_finds_another_one_running_leaves_the_rows_to_it():
    old = attempt(timedelta(days=8))
    with psycopg.connect(database_url("default").replace("postgres://", "postgresql://")) as other:
        other.execute("select pg_advisory_lock(%s)", [_PRUNE_LOCK])

        assert prune_snapshots() == Pruned(attempts=0, snapshots=0)
        assert rows(f"select count(*) from consistency_snapshotattempt where id = {old}") == [(1,)]
        # Released here: closing the connection would release it only once its server process ends.
        other.execute("select pg_advisory_unlock(%s)", [_PRUNE_LOCK])

        assert prune_snapshots().attempts == 1
