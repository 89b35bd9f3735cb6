"""The trends page: consistency per check over time."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from consistency.reporting import trends


@login_required
def trends_page(request):
    """Chart the share of therapists passing each check over the chosen range."""
    days = trends.parse_range(request.GET.get("days"))
    snapshots = trends.snapshots_since(days)
    return render(
        request,
        "consistency/trends.html",
        {
            "days": days,
            "ranges": trends.RANGES,
            "snapshot_count": len(snapshots),
            "chart": trends.series(snapshots),
            "changes": trends.changes(snapshots),
        },
    )
