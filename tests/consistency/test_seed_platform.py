import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from consistency.engine.checks import compute_metrics, states_for_ids
from consistency.models import PlatformUser, TherapistEnrollment

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def _dump():
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "select md5(string_agg(u::text, ',' order by u.id)) from"
            " (select id, email, full_name, user_type, is_verified, is_active, avatar_url from users) u"
        )
        users = cursor.fetchone()[0]
        cursor.execute(
            "select md5(string_agg(e::text, ',' order by e.id)) from"
            " (select id, user_id, email, bio, experience_years, specializations, specialization,"
            "  profile_image_url, status from therapist_enrollments) e"
        )
        return users, cursor.fetchone()[0]


def test_seed_creates_every_kind_of_drift_and_link_problem():
    call_command("seed_platform", therapists=3000, drift=0.1, seed=7)
    metrics = compute_metrics()

    assert metrics["therapists"] == 3000
    for check, count in metrics["inconsistent"].items():
        # About 10% of therapists have each kind of drift (of the ~94% that have both rows).
        assert 180 < count < 420, (check, count)
    for problem, count in metrics["link_problems"].items():
        assert count > 20, (problem, count)
    assert 0 < metrics["consistent"] < 3000


def test_same_seed_gives_the_same_rows():
    call_command("seed_platform", therapists=500, drift=0.2, seed=3)
    first = _dump()
    call_command("seed_platform", therapists=500, drift=0.2, seed=3, replace=True)
    assert _dump() == first
    call_command("seed_platform", therapists=500, drift=0.2, seed=4, replace=True)
    assert _dump() != first


def test_zero_drift_gives_consistent_therapists_with_legacy_formats_and_email_variations():
    call_command("seed_platform", therapists=400, drift=0, seed=1)
    metrics = compute_metrics()
    assert metrics["consistent"] == 400

    assert TherapistEnrollment.objects.filter(specialization__startswith="[").exists()
    assert TherapistEnrollment.objects.filter(specialization__contains=";").exists()
    assert TherapistEnrollment.objects.filter(specialization__contains=",").exists()
    assert PlatformUser.objects.filter(user_type="therapist", email__regex=r"[A-Z]").exists()
    assert TherapistEnrollment.objects.filter(experience_years=0).exists()


def test_seed_ignores_nothing_it_should_and_adds_non_therapists():
    call_command("seed_platform", therapists=200, drift=0.1, seed=1)
    clients = PlatformUser.objects.filter(email__regex=r"^client[0-9]+@example\.com$")
    # One client or partner per four therapists, none of them counted as a therapist.
    assert clients.count() == 50 and not clients.filter(user_type="therapist").exists()
    assert set(clients.values_list("user_type", flat=True)) == {"individual", "partner"}
    assert compute_metrics()["therapists"] == 200
    ids = list(PlatformUser.objects.filter(user_type="therapist").values_list("id", flat=True)[:5])
    assert len(states_for_ids(ids)) == 5


def test_seed_refuses_a_database_that_already_has_users():
    call_command("seed_platform", therapists=10, drift=0.1)
    with pytest.raises(CommandError, match="already has 12 users"):
        call_command("seed_platform", therapists=10, drift=0.1)


@pytest.mark.parametrize("drift", ["1.5", "-0.1", "lots"])
def test_seed_rejects_a_drift_outside_zero_to_one(drift):
    with pytest.raises(CommandError):
        call_command("seed_platform", "--therapists", "10", "--drift", drift)
