"""
Under DEBUG, Django wraps every cursor in its CursorDebugWrapper, whose copy() takes no
parameters: snapshots and resyncs (which COPY the failing rows) must work there too.
"""

import pytest
from django.db import connections
from django.db.backends.utils import CursorDebugWrapper
from django.test import override_settings

from consistency.jobs import runner
from consistency.jobs import service as jobs
from consistency.models import JobState, TherapistProfile, TherapistResult
from consistency.reporting.results import refresh_results
from consistency.reporting.snapshots import take_snapshot
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def debug_cursors():
    """DEBUG on, and every connection's cursors wrapped for debugging, as with DJANGO_DEBUG=true."""
    aliases = ("default", "platform")
    with override_settings(DEBUG=True):
        for alias in aliases:
            connections[alias].force_debug_cursor = True
        yield
        for alias in aliases:
            connections[alias].force_debug_cursor = False


def test_the_cursors_are_the_debug_wrapper_under_debug(debug_cursors):
    for alias in ("default", "platform"):
        with connections[alias].cursor() as cursor:
            assert isinstance(cursor, CursorDebugWrapper)


def test_a_snapshot_under_debug_cursors_has_figures_and_fills_the_drill_down(debug_cursors):
    make_therapist()
    drifted, _, _ = make_therapist(profile={"bio": "Old bio"})
    snapshot = take_snapshot()
    assert (snapshot.therapists, snapshot.consistent, snapshot.inconsistent["bio"]) == (2, 1, 1)
    [row] = TherapistResult.objects.all()
    assert (row.therapist_id, row.failing_checks, row.p_bio) == (drifted.id, ["bio"], "Old bio")


def test_a_resync_under_debug_cursors_refreshes_its_drill_down_rows(debug_cursors, alice, task_queue):
    fixed, _, _ = make_therapist(email="fixed@example.com", profile={"bio": "Old bio"})
    still, _, _ = make_therapist(email="still@example.com", profile=False)
    refresh_results()
    assert TherapistResult.objects.count() == 2
    TherapistProfile.objects.filter(user=fixed).update(bio="Helps with anxiety.")
    TherapistResult.objects.filter(therapist_id=still.id).delete()
    for email in ("fixed@example.com", "still@example.com"):
        job = jobs.start_resync(alice, email)
        runner.run_resync(job.pk)
        job.refresh_from_db()
        assert job.state == JobState.SUCCEEDED
    # The fixed therapist left the drill-down, the other came back with its link problem.
    [row] = TherapistResult.objects.all()
    assert (row.therapist_id, row.link_problems) == (still.id, ["missing_profile"])
