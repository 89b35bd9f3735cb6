"""
Keep the snapshot tables bounded: Celery beat adds a metric snapshot and its attempt
every OPSDASH_SNAPSHOT_MINUTES, forever.

- Snapshot attempts: those asked for more than OPSDASH_SNAPSHOT_ATTEMPTS_DAYS ago go.
  The overview only tells of the latest ones.
- Metric snapshots: every one of the last week (the trends draw them all), then the
  latest of each hour (all the trends draw beyond a week: trends.HOURLY_AFTER_DAYS),
  none older than OPSDASH_SNAPSHOT_DAYS (the trends' longest range is 90 days).

Each table is pruned by one set-based statement; the periodic snapshot task runs them
after each snapshot, so each run deletes a few rows.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from consistency.models import MetricSnapshot, SnapshotAttempt
from consistency.reporting.trends import HOURLY_AFTER_DAYS

ATTEMPTS = SnapshotAttempt._meta.db_table
SNAPSHOTS = MetricSnapshot._meta.db_table

# Two snapshots ending together (beat, Refresh now, a repair-all) prune one at a time.
_PRUNE_LOCK = 74_210_101

DELETE_ATTEMPTS = f"delete from {ATTEMPTS} where requested_at < %(before)s"

# The snapshots past the horizon, and all but the latest of each hour between the
# horizon and the last week. Attempts that pointed at one lose their link (the
# model's on_delete=SET_NULL); the deferred foreign key sees both changes at commit.
DELETE_SNAPSHOTS = f"""
with doomed as (
    select id from {SNAPSHOTS} where taken_at < %(horizon)s
    union all
    select id from (
        select id, row_number() over (
            partition by date_trunc('hour', taken_at at time zone %(time_zone)s)
            order by taken_at desc, id desc
        ) as newest_first
        from {SNAPSHOTS}
        where taken_at >= %(horizon)s and taken_at < %(hourly_before)s
    ) hours
    where newest_first > 1
),
unlinked as (
    update {ATTEMPTS} a set snapshot_id = null from doomed where a.snapshot_id = doomed.id
)
delete from {SNAPSHOTS} s using doomed where s.id = doomed.id
"""


@dataclass(frozen=True)
class Pruned:
    attempts: int
    snapshots: int


def prune_snapshots(now=None):
    """Delete the snapshot attempts and metric snapshots past their retention; return how many of each."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("select pg_try_advisory_xact_lock(%s)", [_PRUNE_LOCK])
        if not cursor.fetchone()[0]:
            return Pruned(attempts=0, snapshots=0)  # another snapshot's task is pruning
        cursor.execute(DELETE_ATTEMPTS, {"before": now - timedelta(days=settings.OPSDASH_SNAPSHOT_ATTEMPTS_DAYS)})
        attempts = cursor.rowcount
        cursor.execute(
            DELETE_SNAPSHOTS,
            {
                "horizon": now - timedelta(days=settings.OPSDASH_SNAPSHOT_DAYS),
                "hourly_before": now - timedelta(days=HOURLY_AFTER_DAYS),
                # The hours the trends group by (Trunc in the default time zone).
                "time_zone": timezone.get_default_timezone_name(),
            },
        )
        snapshots = cursor.rowcount
    return Pruned(attempts=attempts, snapshots=snapshots)
