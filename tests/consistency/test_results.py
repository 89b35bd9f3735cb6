import pytest

from consistency.models import PlatformUser, TherapistProfile, TherapistResult
from consistency.reporting.results import refresh_results
from consistency.reporting.snapshots import after_repair, take_snapshot
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def bio_drift():
    """A therapist whose profile bio differs from the enrollment's, beside a consistent one."""
    make_therapist()
    user, _, _ = make_therapist(profile={"bio": "Old bio"})
    return user


def test_refresh_keeps_only_inconsistent_therapists(bio_drift):
    assert refresh_results() == 1
    [result] = TherapistResult.objects.all()
    assert result.therapist_id == bio_drift.id
    assert result.failing_checks == ["bio"]
    assert (result.e_bio, result.p_bio) == ("Helps with anxiety.", "Old bio")


def test_therapist_without_profile_is_listed_with_its_link_problem():
    user, _, _ = make_therapist(profile=False)
    refresh_results()
    result = TherapistResult.objects.get()
    assert result.link_problems == ["missing_profile"]
    assert result.bio_ok is None


def test_fixed_therapist_leaves_the_table_on_its_own_refresh(bio_drift):
    refresh_results()
    TherapistProfile.objects.filter(user=bio_drift).update(bio="Helps with anxiety.")
    after_repair(therapist_ids=[bio_drift.id])
    assert not TherapistResult.objects.exists()


def test_refresh_of_one_therapist_leaves_the_others_alone(bio_drift):
    other, enrollment, _ = make_therapist(enrollment={"full_name": "Renamed"})
    refresh_results()
    PlatformUser.objects.filter(pk=other.pk).update(full_name=enrollment.full_name)
    refresh_results([bio_drift.id])
    assert set(TherapistResult.objects.values_list("therapist_id", flat=True)) == {bio_drift.id, other.id}


def test_failing_since_survives_a_change_of_what_fails(bio_drift):
    refresh_results()
    first_seen = TherapistResult.objects.get().failing_since
    PlatformUser.objects.filter(pk=bio_drift.pk).update(full_name="Someone else")
    refresh_results()
    result = TherapistResult.objects.get()
    assert result.failing_checks == ["bio", "name"]
    assert result.failing_since == first_seen


def test_snapshot_refreshes_the_drill_down(bio_drift):
    snapshot = take_snapshot()
    assert snapshot.therapists - snapshot.consistent == TherapistResult.objects.count() == 1
