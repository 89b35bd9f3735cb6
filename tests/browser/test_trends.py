"""The trends chart draws what was measured: a single snapshot, few of them, no curve above the data."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from consistency.checks import CHECKS
from consistency.models import MetricSnapshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]

# Where Chart.js drew the first points of the "consistent" line, in pixels, and its plot area.
DRAWN = """() => {
  const chart = Chart.getChart('trend-chart');
  const meta = chart.getDatasetMeta(0);
  return {
    area: chart.chartArea,
    points: meta.data.map(p => ({x: p.x, y: p.y, radius: p.options.radius, cp: [p.cp1y, p.cp2y]})),
  };
}"""


def snapshots(consistent_percents, hours_apart=6):
    """Snapshots of 100 therapists, the last one now, with these percentages consistent (oldest first)."""
    now = timezone.now()
    count = len(consistent_percents)
    MetricSnapshot.objects.bulk_create(
        MetricSnapshot(
            taken_at=now - timedelta(hours=hours_apart * (count - 1 - i)),
            therapists=100,
            consistent=percent,
            inconsistent={check: 100 - percent for check in CHECKS},
            link_problems={},
        )
        for i, percent in enumerate(consistent_percents)
    )


@pytest.fixture
def trends_page(live_server, sign_in, victor):
    def open_page():
        page = sign_in("victor")
        page.goto(live_server.url + "/trends/")
        expect(page.locator("#trend-chart")).to_be_visible()
        return page.evaluate(DRAWN)

    return open_page


def inside(area, point):
    return area["left"] <= point["x"] <= area["right"] and area["top"] <= point["y"] <= area["bottom"]


def test_one_snapshot_shows_its_point(trends_page, committed_platform):
    snapshots([90])
    drawn = trends_page()
    [point] = drawn["points"]
    assert inside(drawn["area"], point)
    assert point["radius"] >= 3


def test_few_snapshots_draw_a_marker_at_each(trends_page, committed_platform):
    snapshots([90, 92, 91])
    drawn = trends_page()
    assert len(drawn["points"]) == 3
    assert all(inside(drawn["area"], p) and p["radius"] >= 3 for p in drawn["points"])


def test_the_line_never_shows_a_value_above_or_below_the_measured_ones(trends_page, committed_platform):
    snapshots([90, 80, 93, 90, 70, 71, 93])
    drawn = trends_page()
    ys = [p["y"] for p in drawn["points"]]
    top, bottom = min(ys), max(ys)  # pixels grow downwards: 93 % is the top
    for point in drawn["points"]:
        for control in point["cp"]:
            # A curve stays between its control points: none may lie beyond the data.
            assert control is None or top - 0.5 <= control <= bottom + 0.5, (point, top, bottom)
