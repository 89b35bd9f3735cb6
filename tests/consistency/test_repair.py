"""The repair rules of docs/rules.md §4, against the real PostgreSQL tables."""

from datetime import timedelta

import pytest
from django.db import connections

from consistency.engine import repair
from consistency.engine.checks import states_for_ids
from interventions.models import Intervention
from tests.factories import make_enrollment, make_profile, make_therapist, make_user
from tests.helpers import LONG_AGO, backdate_platform_rows, open_interventions, platform_contents, repair_everyone

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def fresh(row):
    row.refresh_from_db()
    return row


def fresh_all(*rows):
    return [fresh(row) for row in rows]


# ------------------------------------------------------------------------------
# Avatar
# ------------------------------------------------------------------------------
def test_avatar_comes_from_the_enrollment_first():
    rows = make_therapist(
        user={"avatar_url": "https://cdn/u.jpg"},
        enrollment={"profile_image_url": "https://cdn/e.jpg"},
        profile={"profile_image_url": "https://cdn/p.jpg"},
    )
    repair_everyone()
    user, enrollment, profile = fresh_all(*rows)
    assert (user.avatar_url, enrollment.profile_image_url, profile.profile_image_url) == ("https://cdn/e.jpg",) * 3


def test_avatar_falls_back_to_the_users_then_the_profiles():
    from_user = make_therapist(
        user={"avatar_url": "https://cdn/u.jpg"}, profile={"profile_image_url": "https://cdn/p.jpg"}
    )
    from_profile = make_therapist(user={"avatar_url": None}, profile={"profile_image_url": "https://cdn/p.jpg"})
    repair_everyone()
    assert [fresh(r).profile_image_url for r in from_user[1:]] == ["https://cdn/u.jpg"] * 2
    assert fresh(from_user[0]).avatar_url == "https://cdn/u.jpg"
    assert fresh(from_profile[0]).avatar_url == "https://cdn/p.jpg"
    assert fresh(from_profile[1]).profile_image_url == "https://cdn/p.jpg"


def test_placeholder_and_null_are_the_same_no_image():
    rows = make_therapist(user={"avatar_url": None}, enrollment={"profile_image_url": "/placeholder.svg"})
    backdate_platform_rows()
    result = repair_everyone()
    assert result.therapists_changed == 0
    assert fresh(rows[1]).profile_image_url == "/placeholder.svg"


def test_nothing_is_written_when_nobody_has_an_image():
    # A blank avatar fails the check (it differs from NULL) but is no image to copy.
    user, _, _ = make_therapist(user={"avatar_url": ""}, enrollment={"profile_image_url": "/placeholder.svg"})
    result = repair_everyone()
    assert result.rows_changed["users"]["avatar_url"] == 0
    assert fresh(user).avatar_url == ""


def test_a_blank_avatar_never_overwrites_an_image():
    rows = make_therapist(user={"avatar_url": "https://cdn/u.jpg"}, enrollment={"profile_image_url": "  "})
    repair_everyone()
    user, enrollment, profile = fresh_all(*rows)
    assert (user.avatar_url, enrollment.profile_image_url, profile.profile_image_url) == ("https://cdn/u.jpg",) * 3


# ------------------------------------------------------------------------------
# Bio and experience
# ------------------------------------------------------------------------------
def test_bio_comes_from_the_enrollment_when_it_has_one():
    _, enrollment, profile = make_therapist(enrollment={"bio": "New bio."}, profile={"bio": "Old bio."})
    repair_everyone()
    assert (fresh(enrollment).bio, fresh(profile).bio) == ("New bio.", "New bio.")


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_enrollment_bio_takes_the_profiles(empty):
    _, enrollment, profile = make_therapist(enrollment={"bio": empty}, profile={"bio": "Profile bio."})
    repair_everyone()
    assert (fresh(enrollment).bio, fresh(profile).bio) == ("Profile bio.", "Profile bio.")


def test_experience_follows_the_enrollment_when_above_zero():
    _, enrollment, profile = make_therapist(enrollment={"experience_years": 7}, profile={"experience_years": 3})
    repair_everyone()
    assert (fresh(enrollment).experience_years, fresh(profile).experience_years) == (7, 7)


@pytest.mark.parametrize("unknown", [None, 0])
def test_an_unknown_enrollment_experience_keeps_the_profiles(unknown):
    _, enrollment, profile = make_therapist(enrollment={"experience_years": unknown}, profile={"experience_years": 4})
    result = repair_everyone()
    assert result.therapists_changed == 0
    assert (fresh(enrollment).experience_years, fresh(profile).experience_years) == (unknown, 4)


def test_experience_unknown_on_both_sides_follows_the_enrollment():
    _, enrollment, profile = make_therapist(enrollment={"experience_years": 0}, profile={"experience_years": None})
    repair_everyone()
    assert (fresh(enrollment).experience_years, fresh(profile).experience_years) == (0, 0)


def test_a_positive_profile_experience_replaces_a_negative_enrollment_one():
    _, enrollment, profile = make_therapist(enrollment={"experience_years": -2}, profile={"experience_years": 6})
    repair_everyone()
    assert (fresh(enrollment).experience_years, fresh(profile).experience_years) == (6, 6)


# ------------------------------------------------------------------------------
# Verification
# ------------------------------------------------------------------------------
def test_an_approved_enrollment_verifies_the_profile_and_the_user():
    rows = make_therapist(
        user={"is_verified": False},
        enrollment={"status": "approved"},
        profile={"verification_status": "pending", "is_verified": False},
    )
    repair_everyone()
    user, _, profile = fresh_all(*rows)
    assert (profile.verification_status, profile.is_verified, user.is_verified) == ("approved", True, True)


def test_a_rejected_enrollment_unverifies_the_profile_and_the_user():
    rows = make_therapist(user={"is_verified": True}, enrollment={"status": "rejected"})
    repair_everyone()
    user, _, profile = fresh_all(*rows)
    assert (profile.verification_status, profile.is_verified, user.is_verified) == ("rejected", False, False)


def test_a_pending_enrollment_leaves_the_users_sign_in_flag_alone():
    # Every magic-link sign-in sets users.is_verified, even for a pending therapist.
    rows = make_therapist(user={"is_verified": True}, enrollment={"status": "pending"})
    backdate_platform_rows()
    result = repair_everyone()
    user, _, profile = fresh_all(*rows)
    assert (profile.verification_status, profile.is_verified) == ("pending", False)
    assert user.is_verified is True
    assert user.updated_at == LONG_AGO
    assert result.rows_changed["users"]["is_verified"] == 0


def test_the_legacy_verified_status_counts_as_approved_and_is_left_alone():
    _, _, profile = make_therapist(profile={"verification_status": "verified", "is_verified": True})
    backdate_platform_rows()
    repair_everyone()
    profile = fresh(profile)
    assert profile.verification_status == "verified"
    assert profile.updated_at == LONG_AGO


# ------------------------------------------------------------------------------
# Active and name
# ------------------------------------------------------------------------------
def test_the_user_takes_the_enrollments_name_and_active_flag():
    user, _, _ = make_therapist(
        user={"full_name": "Old Name", "is_active": True},
        enrollment={"full_name": "New Name", "is_active": False},
    )
    repair_everyone()
    user = fresh(user)
    assert (user.full_name, user.is_active) == ("New Name", False)


def test_an_empty_name_differs_from_a_missing_one():
    user, _, _ = make_therapist(user={"full_name": None}, enrollment={"full_name": ""})
    repair_everyone()
    assert fresh(user).full_name == ""


# ------------------------------------------------------------------------------
# Specializations
# ------------------------------------------------------------------------------
def test_the_profile_takes_the_enrollments_specializations():
    _, enrollment, profile = make_therapist(
        enrollment={"specializations": ["Anxiety", "Grief"]}, profile={"specializations": ["CBT"]}
    )
    repair_everyone()
    assert fresh(profile).specializations == ["Anxiety", "Grief"]
    assert fresh(enrollment).specializations == ["Anxiety", "Grief"]


def test_specializations_that_differ_only_in_case_and_order_are_left_alone():
    _, _, profile = make_therapist(
        enrollment={"specializations": ["Anxiety", "CBT"]}, profile={"specializations": ["cbt", "anxiety"]}
    )
    backdate_platform_rows()
    repair_everyone()
    profile = fresh(profile)
    assert profile.specializations == ["cbt", "anxiety"]
    assert profile.updated_at == LONG_AGO


def test_the_legacy_text_feeds_the_profile_and_the_empty_array_but_is_never_rewritten():
    _, enrollment, profile = make_therapist(
        enrollment={"specializations": None, "specialization": "anxiety;  cbt, Anxiety"},
        profile={"specializations": ["Grief"]},
    )
    repair_everyone()
    enrollment = fresh(enrollment)
    assert fresh(profile).specializations == ["anxiety", "cbt"]
    assert enrollment.specializations == ["anxiety", "cbt"]
    assert enrollment.specialization == "anxiety;  cbt, Anxiety"


def test_a_legacy_json_array_is_read_as_a_list():
    _, _, profile = make_therapist(
        enrollment={"specializations": [], "specialization": '["CBT","DBT"]'}, profile={"specializations": None}
    )
    repair_everyone()
    assert fresh(profile).specializations == ["CBT", "DBT"]


def test_an_enrollment_without_specializations_takes_the_profiles():
    _, enrollment, profile = make_therapist(
        enrollment={"specializations": [], "specialization": ""}, profile={"specializations": ["Grief"]}
    )
    repair_everyone()
    assert fresh(enrollment).specializations == ["Grief"]
    assert fresh(profile).specializations == ["Grief"]


def test_a_filled_enrollment_array_is_never_overwritten():
    _, enrollment, _ = make_therapist(
        enrollment={"specializations": ["Anxiety"], "specialization": "Grief"}, profile={"specializations": ["Grief"]}
    )
    repair_everyone()
    enrollment = fresh(enrollment)
    assert (enrollment.specializations, enrollment.specialization) == (["Anxiety"], "Grief")


# ------------------------------------------------------------------------------
# Links
# ------------------------------------------------------------------------------
def test_an_unlinked_enrollment_is_linked_to_its_therapist():
    user = make_user(email="Case.Mismatch@Example.com ")
    enrollment = make_enrollment(user, email="case.mismatch@example.com", linked=False)
    make_profile(user)
    result = repair_everyone()
    assert fresh(enrollment).user_id == user.id
    assert result.rows_changed["therapist_enrollments"]["user_id"] == 1
    assert states_for_ids([user.id])[0].consistent
    assert open_interventions() == []


def test_linking_an_enrollment_resolves_its_open_intervention():
    user = make_user()
    make_enrollment(user, linked=False)
    make_profile(user)
    Intervention.objects.create(operation="unlinked-enrollment", entity_id=user.email, error="not linked")
    result = repair_everyone()
    assert result.interventions_resolved == 1
    assert open_interventions() == []


def test_an_unlinked_enrollment_is_left_for_a_human_when_another_is_linked():
    user, linked, _ = make_therapist(
        enrollment={"status": "pending"}, profile={"verification_status": "pending", "is_verified": False}
    )
    unlinked = make_enrollment(user, linked=False, status="approved")
    repair_everyone()
    assert fresh(unlinked).user_id is None
    assert fresh(linked).user_id == user.id
    assert ("unlinked-enrollment", user.email) in open_interventions()


def test_duplicate_enrollments_are_never_written():
    user, canonical, _ = make_therapist(enrollment={"bio": "Current bio."}, profile={"bio": "Old bio."})
    duplicate = make_enrollment(user, linked=False, status="pending", bio="Ancient bio.", age=timedelta(days=30))
    backdate_platform_rows()
    repair_everyone()
    duplicate = fresh(duplicate)
    assert (duplicate.bio, duplicate.user_id, duplicate.updated_at) == ("Ancient bio.", None, LONG_AGO)
    assert fresh(canonical).bio == "Current bio."
    assert open_interventions("duplicate-enrollment") == [("duplicate-enrollment", user.email)]


def test_an_enrollment_shared_by_duplicate_users_is_not_written():
    first = make_user(email="twin@example.com", avatar_url="https://cdn/first.jpg")
    second = make_user(email="Twin@Example.com", avatar_url="https://cdn/second.jpg")
    shared = make_enrollment(email="twin@example.com", linked=False)
    make_profile(first)
    make_profile(second)
    backdate_platform_rows()
    repair_everyone()
    assert fresh(shared).updated_at == LONG_AGO
    assert (fresh(first).avatar_url, fresh(second).avatar_url) == ("https://cdn/first.jpg", "https://cdn/second.jpg")
    assert open_interventions("duplicate-user") == [("duplicate-user", "twin@example.com")]


# ------------------------------------------------------------------------------
# Only changed rows, counts, idempotence, dry run
# ------------------------------------------------------------------------------
@pytest.fixture
def drifting_therapists():
    """A consistent therapist and three with a drift each: profile bio, user name, both avatars."""
    consistent = make_therapist()
    bio = make_therapist(profile={"bio": "Stale."})
    name = make_therapist(user={"full_name": "Nick Name"}, enrollment={"full_name": "Legal Name"})
    avatar = make_therapist(user={"avatar_url": "https://cdn/a.jpg"})
    backdate_platform_rows()
    return consistent, bio, name, avatar


def test_only_rows_that_change_get_a_new_updated_at(drifting_therapists):
    consistent, bio, name, avatar = drifting_therapists
    repair_everyone()
    assert [fresh(row).updated_at for row in consistent] == [LONG_AGO] * 3
    # bio drift: only the profile; name drift: only the user; avatar: enrollment and profile.
    assert [fresh(row).updated_at == LONG_AGO for row in bio] == [True, True, False]
    assert [fresh(row).updated_at == LONG_AGO for row in name] == [False, True, True]
    assert [fresh(row).updated_at == LONG_AGO for row in avatar] == [True, False, False]


def test_the_repair_counts_rows_changed_per_table_and_column(drifting_therapists):
    result = repair_everyone()
    assert result.therapists == 4
    assert result.therapists_changed == 3
    changed = {
        f"{table}.{column}": count
        for table, columns in result.rows_changed.items()
        for column, count in columns.items()
        if count
    }
    assert changed == {
        "therapist_profiles.bio": 1,
        "users.full_name": 1,
        "therapist_enrollments.profile_image_url": 1,
        "therapist_profiles.profile_image_url": 1,
    }


def test_a_second_repair_changes_nothing(drifting_therapists):
    repair_everyone()
    before = platform_contents()
    second = repair_everyone()
    assert second.therapists_changed == 0
    assert second.rows_changed_total == 0
    assert platform_contents() == before


def test_a_dry_run_writes_nothing_and_counts_what_the_repair_changes(drifting_therapists):
    make_therapist(profile=False)  # a link problem a real run would log
    before = platform_contents()
    dry = repair_everyone(dry_run=True)
    assert platform_contents() == before
    real = repair_everyone()
    assert (dry.therapists, dry.therapists_changed, dry.rows_changed) == (
        real.therapists,
        real.therapists_changed,
        real.rows_changed,
    )


def test_a_resync_preview_shows_before_and_after_values():
    make_therapist(
        email="Preview@Example.com",
        user={"full_name": "Old Name"},
        enrollment={"full_name": "New Name"},
        profile={"bio": "Stale."},
    )
    before = platform_contents()
    changes = repair.preview_email("preview@example.com")
    assert platform_contents() == before
    assert sorted(changes, key=lambda c: c["table"]) == [
        {"table": "therapist_profiles", "column": "bio", "before": "Stale.", "after": "Helps with anxiety."},
        {"table": "users", "column": "full_name", "before": "Old Name", "after": "New Name"},
    ]


def test_chunks_cover_every_therapist_once():
    users = [make_therapist(profile={"bio": f"Stale {n}."})[0] for n in range(5)]
    make_user(user_type="individual")
    bounds = repair.chunk_bounds(2)
    assert len(bounds) == 3
    results = [repair.repair_range(after, upto) for after, upto in bounds]
    assert [r.therapists for r in results] == [2, 2, 1]
    assert all(state.consistent for state in states_for_ids([u.id for u in users]))


# ------------------------------------------------------------------------------
# Graceful degradation and the intervention log
# ------------------------------------------------------------------------------
@pytest.fixture
def profile_bio_constraint():
    """A CHECK constraint on the profiles that rejects one value, as a platform might add."""
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "alter table therapist_profiles add constraint no_forbidden_bio check (bio is distinct from 'Forbidden.')"
        )


def test_a_failing_therapist_does_not_stop_the_others_and_is_logged_once(profile_bio_constraint):
    failing, _, failing_profile = make_therapist(email="fails@example.com", enrollment={"bio": "Forbidden."})
    others = [make_therapist(profile={"bio": "Stale."}) for _ in range(3)]
    first = repair_everyone()
    assert [f.email for f in first.failures] == ["fails@example.com"]
    assert first.therapists_changed == 3
    assert all(fresh(profile).bio == "Helps with anxiety." for _, _, profile in others)
    assert fresh(failing_profile).bio == "Helps with anxiety."
    assert open_interventions("therapist-sync") == [("therapist-sync", "fails@example.com")]
    second = repair_everyone()
    assert len(second.failures) == 1
    assert second.interventions_logged == 0
    assert len(open_interventions("therapist-sync")) == 1
    [logged] = Intervention.objects.filter(operation="therapist-sync")
    assert "no_forbidden_bio" in logged.error
    assert logged.payload["user_id"] == str(failing.id)


def test_link_problems_are_logged_once_each():
    without_profile, _, _ = make_therapist(profile=False)
    without_enrollment, _, _ = make_therapist(enrollment=False)
    first = repair_everyone()
    assert first.interventions_logged == 2
    second = repair_everyone()
    assert second.interventions_logged == 0
    assert open_interventions() == sorted(
        [("missing-profile", without_profile.email), ("missing-enrollment", without_enrollment.email)]
    )


def test_orphan_enrollments_are_logged_once_and_resolved_when_gone():
    orphan = make_enrollment(email="Never.Signed.In@example.com", linked=False, status="approved")
    assert repair.log_orphan_enrollments() == (1, 0)
    assert repair.log_orphan_enrollments() == (0, 0)
    assert open_interventions("orphan-enrollment") == [("orphan-enrollment", "never.signed.in@example.com")]
    make_user(email=orphan.email)
    assert repair.log_orphan_enrollments() == (0, 1)
    assert open_interventions("orphan-enrollment") == []


@pytest.fixture
def open_sync_interventions():
    """An avatar drift logged by the platform, once under the email and once under the user id."""
    user, _, _ = make_therapist(email="Drift@Example.com", user={"avatar_url": "https://cdn/new.jpg"})
    Intervention.objects.create(operation="avatar-sync", entity_id="Drift@Example.com", error="trigger failed")
    Intervention.objects.create(operation="avatar-sync", entity_id=str(user.id), error="trigger failed")
    Intervention.objects.create(operation="missing-profile", entity_id="drift@example.com", error="no profile then")
    return user


def test_interventions_whose_problem_the_repair_fixed_are_resolved(open_sync_interventions):
    result = repair_everyone()
    assert result.interventions_resolved == 3
    resolved = Intervention.objects.filter(resolved=True)
    assert {(i.resolved_by, i.resolved_at is not None) for i in resolved} == {("opsdash", True)}
    assert all("resolved automatically" in i.resolution_notes for i in resolved)


def test_interventions_of_a_problem_still_there_stay_open():
    user, _, _ = make_therapist(profile=False)
    Intervention.objects.create(operation="missing-profile", entity_id=user.email, error="no profile")
    Intervention.objects.create(operation="profile-sync", entity_id=user.email, error="could not sync")
    result = repair_everyone()
    assert result.interventions_resolved == 0
    assert len(open_interventions()) == 2


def test_the_failing_therapists_intervention_is_resolved_once_it_can_be_repaired(profile_bio_constraint):
    make_therapist(email="fails@example.com", enrollment={"bio": "Forbidden."})
    repair_everyone()
    with connections["platform"].cursor() as cursor:
        cursor.execute("alter table therapist_profiles drop constraint no_forbidden_bio")
    result = repair_everyone()
    assert result.failures == []
    assert result.interventions_resolved == 1
    assert open_interventions() == []
