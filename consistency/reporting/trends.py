"""Turn metric snapshots into the series the trends chart draws."""

from datetime import timedelta

from django.db.models.functions import Trunc
from django.utils import timezone

from consistency.catalogue import CHECK_NAMES
from consistency.models import MetricSnapshot

# The ranges the trends page offers, in days; 7 is the default (issue 5).
RANGES = (1, 7, 30, 90)
DEFAULT_RANGE = 7
# Beyond a week, one point per hour is plenty for a chart a few hundred pixels wide,
# and keeps a 90-day page to about 2,000 points instead of 26,000.
HOURLY_AFTER_DAYS = 7


def parse_range(value):
    """Return the range in days asked for if the page offers it, else the default."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_RANGE
    return days if days in RANGES else DEFAULT_RANGE


def snapshots_since(days):
    """Return the snapshots of the last ``days`` days, oldest first, the latest of each hour beyond a week."""
    since = timezone.now() - timedelta(days=days)
    snapshots = MetricSnapshot.objects.filter(taken_at__gte=since)
    if days > HOURLY_AFTER_DAYS:
        snapshots = snapshots.annotate(hour=Trunc("taken_at", "hour")).order_by("hour", "-taken_at").distinct("hour")
        return sorted(snapshots, key=lambda s: s.taken_at)
    return list(snapshots.order_by("taken_at"))


def _passing_percent(snapshot, failing):
    if not snapshot.therapists:
        return None
    return round(100 * (snapshot.therapists - failing) / snapshot.therapists, 2)


def series(snapshots):
    """
    Return the chart's data: per check, the percentage of therapists passing it, over time.

    The shape is what static/opsdash.js hands to Chart.js: times in milliseconds and one
    list of percentages per line, "consistent" (every check and no link problem) first.
    """
    lines = {"consistent": [_passing_percent(s, s.therapists - s.consistent) for s in snapshots]}
    for check in CHECK_NAMES:
        lines[check] = [_passing_percent(s, s.inconsistent.get(check, 0)) for s in snapshots]
    return {"times": [int(s.taken_at.timestamp() * 1000) for s in snapshots], "lines": lines}


def changes(snapshots):
    """Return, per line, the first and last percentage of the range and the change between them."""
    if not snapshots:
        return []
    data = series([snapshots[0], snapshots[-1]])["lines"]
    return [
        {
            "name": name,
            "first": first,
            "last": last,
            "change": None if first is None or last is None else round(last - first, 2),
        }
        for name, (first, last) in data.items()
    ]
