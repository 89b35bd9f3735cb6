from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from consistency.checks import CHECKS, LINK_PROBLEMS
from consistency.models import MetricSnapshot


@pytest.fixture(autouse=True)
def forget_cached_health():
    """Each test pings the workers afresh: the cached answer belongs to another test's queue."""
    cache.clear()
    yield
    cache.clear()


def make_snapshot(age=timedelta(0), therapists=100, consistent=90, failing=None, link_problems=None, **fields):
    """Store a snapshot taken ``age`` ago, ``failing`` {check: therapists} and the rest passing."""
    return MetricSnapshot.objects.create(
        taken_at=timezone.now() - age,
        therapists=therapists,
        consistent=consistent,
        inconsistent={check: (failing or {}).get(check, 0) for check in CHECKS},
        link_problems={problem: (link_problems or {}).get(problem, 0) for problem in LINK_PROBLEMS},
        **fields,
    )


@pytest.fixture
def fresh_snapshot(db):
    """A snapshot taken just now: 90 of 100 therapists consistent, 10 failing bio."""
    return make_snapshot(failing={"bio": 10}, unresolved_interventions=2, duration_ms=1500)
