import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consistency.models import MetricSnapshot

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def _snapshot(ago, bio_failing, therapists=100):
    return MetricSnapshot.objects.create(
        taken_at=timezone.now() - ago,
        therapists=therapists,
        consistent=therapists - bio_failing,
        inconsistent={"bio": bio_failing},
        link_problems={},
    )


@pytest.fixture
def a_month_of_snapshots():
    for day in range(30):
        _snapshot(timedelta(days=day, minutes=5), bio_failing=day)


def test_trends_chart_the_last_seven_days_by_default(viewer_client, a_month_of_snapshots):
    response = viewer_client.get(reverse("consistency:trends"))
    html = response.content.decode()
    data = json.loads(html.split('<script id="trend-data" type="application/json">')[1].split("</script>")[0])
    assert len(data["times"]) == 7
    assert data["lines"]["bio"][-1] == 100.0  # today: none failing
    assert data["lines"]["bio"][0] == 94.0  # six days ago: 6 of 100 failing


def test_trends_range_can_be_chosen(viewer_client, a_month_of_snapshots):
    response = viewer_client.get(reverse("consistency:trends") + "?days=90")
    assert response.context["snapshot_count"] == 30


def test_long_ranges_keep_the_latest_snapshot_of_each_hour(viewer_client):
    # Three snapshots within one hour ten days ago, then one in the next hour.
    hour = timezone.localtime(timezone.now() - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    for minutes, failing in ((5, 5), (15, 15), (25, 25), (70, 1)):
        _snapshot(timezone.now() - (hour + timedelta(minutes=minutes)), bio_failing=failing)
    response = viewer_client.get(reverse("consistency:trends") + "?days=30")
    assert response.context["snapshot_count"] == 2
    assert response.context["chart"]["lines"]["bio"] == [75.0, 99.0]


def test_page_loads_the_vendored_chart_library_and_no_cdn(viewer_client, a_month_of_snapshots):
    html = viewer_client.get(reverse("consistency:trends")).content.decode()
    assert "/static/vendor/chart-4.6.1.umd.min.js" in html
    assert "https://" not in html
