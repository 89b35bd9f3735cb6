import pytest

from consistency.checks import compute_metrics, states_for_ids
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def test_consistent_therapist_passes_every_check():
    user, _, _ = make_therapist()
    [state] = states_for_ids([user.id])
    assert state.consistent
    assert state.failing_checks == []


def test_legacy_specialization_text_is_normalised():
    user, _, _ = make_therapist(
        enrollment={"specializations": None, "specialization": 'anxiety;  cbt, Anxiety'},
    )
    [state] = states_for_ids([user.id])
    assert state.e_list == ["anxiety", "cbt"]
    assert state.specializations_ok


def test_metrics_count_each_failing_check():
    make_therapist()
    make_therapist(profile={"bio": "Different"})
    metrics = compute_metrics()
    assert metrics["therapists"] == 2
    assert metrics["consistent"] == 1
    assert metrics["inconsistent"]["bio"] == 1
