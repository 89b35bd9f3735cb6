"""
The checks engine against real PostgreSQL: every rule of docs/rules.md §2 and §3.

Each test builds one situation in the platform tables (created from the shipped SQL)
and reads the therapist's state back through consistency.engine.checks, as the dashboard,
the repair and consistency_report do.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from consistency.catalogue import CHECK_NAMES
from consistency.engine.checks import (
    ALL_THERAPISTS,
    BY_ID_RANGE,
    compute_metrics,
    states_for_email,
    states_for_ids,
    therapist_states,
)
from consistency.models import PlatformUser, TherapistEnrollment, TherapistProfile
from tests.factories import make_enrollment, make_profile, make_therapist, make_user

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

LINK_FLAGS = ("unlinked_enrollment", "missing_enrollment", "missing_profile", "duplicate_enrollment", "duplicate_user")


def state_of(user):
    """Return the one state the engine computes for this therapist."""
    [state] = states_for_ids([user.id])
    return state


def set_updated_at(enrollment, when):
    """Pin an enrollment's updated_at (auto_now would overwrite it on save)."""
    TherapistEnrollment.objects.filter(pk=enrollment.pk).update(updated_at=when)


def assert_only_failing(state, check):
    assert state.failing_checks == [check]
    assert not state.consistent


# ---------------------------------------------------------------------------
# A consistent therapist, and who counts as a therapist (docs/rules.md §2)
# ---------------------------------------------------------------------------


def test_consistent_therapist_passes_every_check_and_has_no_link_problem():
    user, _, _ = make_therapist()
    state = state_of(user)
    assert all(state.row[f"{check}_ok"] is True for check in CHECK_NAMES)
    assert state.link_problems == []
    assert state.consistent


def test_only_users_of_type_therapist_are_checked():
    therapist, _, _ = make_therapist()
    for user_type in ("individual", "partner", "admin"):
        # Drifted rows, which would fail several checks if these users were therapists.
        make_therapist(user={"user_type": user_type, "full_name": "Other"}, profile={"bio": "Different"})

    states = therapist_states()

    assert [s.therapist_id for s in states] == [therapist.id]
    assert compute_metrics()["therapists"] == 1


def test_enrollments_of_non_therapists_are_ignored():
    client = make_user("client@example.com", user_type="individual")
    make_enrollment(client, status="approved")  # linked to the client
    make_enrollment(email="client@example.com", linked=False, status="approved")  # unlinked, the client's email
    therapist, _, _ = make_therapist()

    metrics = compute_metrics()

    assert metrics["therapists"] == 1
    assert metrics["consistent"] == 1
    # Neither enrollment is anyone's orphan: one is linked, the other's email is a user's.
    assert metrics["link_problems"]["orphan_enrollment"] == 0
    assert state_of(therapist).enrollment_count == 1


def test_enrollment_linked_to_another_user_is_not_the_therapists_even_with_the_same_email():
    therapist = make_user("dana@example.com")
    make_profile(therapist)
    client = make_user("DANA@example.com", user_type="individual")
    make_enrollment(client, email="dana@example.com")

    state = state_of(therapist)

    assert state.missing_enrollment
    assert state.enrollment_count == 0


def test_models_tolerate_the_platform_columns_they_do_not_map():
    user, enrollment, profile = make_therapist()
    with connections["platform"].cursor() as cursor:
        cursor.execute("update users set phone = '+2348000000', credits = 12 where id = %s", [user.id])
        cursor.execute("update therapist_enrollments set languages = '{English,Yoruba}' where id = %s", [enrollment.id])
        cursor.execute("update therapist_profiles set hourly_rate = 15000 where id = %s", [profile.id])

    # Reading and saving through the models leaves the unmapped columns as they were.
    for model, row in ((PlatformUser, user), (TherapistEnrollment, enrollment), (TherapistProfile, profile)):
        loaded = model.objects.get(pk=row.pk)
        loaded.save()

    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "select u.phone, u.credits, e.languages, p.hourly_rate from users u"
            " join therapist_enrollments e on e.user_id = u.id join therapist_profiles p on p.user_id = u.id"
            " where u.id = %s",
            [user.id],
        )
        assert cursor.fetchone() == ("+2348000000", 12, ["English", "Yoruba"], 15000)
    assert state_of(user).consistent


# ---------------------------------------------------------------------------
# Email normalisation and linking (docs/rules.md §2)
# ---------------------------------------------------------------------------


def test_unlinked_enrollment_is_found_by_email_despite_case_and_spaces():
    user = make_user("  Ada.Obi@Example.COM ")
    make_profile(user)
    enrollment = make_enrollment(user, email="ada.obi@example.com", linked=False)

    state = state_of(user)

    assert state.norm_email == "ada.obi@example.com"
    assert state.e_id == enrollment.id
    assert state.unlinked_enrollment


def test_enrollment_with_a_different_email_is_not_linked_by_email():
    user = make_user("ada@example.com")
    make_profile(user)
    make_enrollment(user, email="ada.obi@example.com", linked=False)

    assert state_of(user).missing_enrollment


def test_linked_enrollment_counts_whatever_its_email_says():
    user = make_user("ada@example.com")
    make_profile(user)
    enrollment = make_enrollment(user, email="ADA.old@example.com")

    state = state_of(user)

    assert state.e_id == enrollment.id
    assert state.consistent


def test_therapist_is_found_by_email_in_any_case_and_spacing():
    user, _, _ = make_therapist("Grace@Example.com")
    make_therapist("someone.else@example.com")

    [state] = states_for_email("  GRACE@example.COM  ")

    assert state.therapist_id == user.id


def test_one_therapist_a_range_and_everyone_give_the_same_state():
    users = [make_therapist()[0], make_therapist(profile={"bio": "x"})[0], make_therapist(profile=False)[0]]
    ids = sorted(u.id for u in users)

    everyone = {s.therapist_id: s.row for s in therapist_states(ALL_THERAPISTS)}
    one_by_one = {u.id: state_of(u).row for u in users}
    in_range = therapist_states(BY_ID_RANGE, {"after": uuid.UUID(int=0), "upto": ids[-1]})

    assert everyone == one_by_one
    assert [s.therapist_id for s in in_range] == ids


def test_id_range_excludes_its_lower_bound():
    users = sorted((make_therapist()[0] for _ in range(3)), key=lambda u: u.id)

    chunk = therapist_states(BY_ID_RANGE, {"after": users[0].id, "upto": users[2].id})

    assert [s.therapist_id for s in chunk] == [users[1].id, users[2].id]


# ---------------------------------------------------------------------------
# The canonical enrollment among duplicates (docs/rules.md §2)
# ---------------------------------------------------------------------------


@pytest.fixture
def duplicate_enrollments():
    """A therapist with a linked pending enrollment and an older approved one found by email."""
    user = make_user("kemi@example.com")
    make_profile(user)
    pending = make_enrollment(user, status="pending")
    approved = make_enrollment(user, linked=False, status="approved", age=timedelta(days=30))
    return user, pending, approved


def test_approved_enrollment_is_canonical_even_when_older(duplicate_enrollments):
    user, _, approved = duplicate_enrollments

    state = state_of(user)

    assert state.e_id == approved.id
    assert state.enrollment_count == 2
    assert state.duplicate_enrollment


def test_latest_updated_enrollment_is_canonical_when_none_is_approved():
    user = make_user()
    make_profile(user, verification_status="pending", is_verified=False)
    make_enrollment(user, status="pending", age=timedelta(days=2))
    latest = make_enrollment(user, linked=False, status="rejected", age=timedelta(hours=1))
    make_enrollment(user, linked=False, status="pending", age=timedelta(days=1))

    assert state_of(user).e_id == latest.id


def test_latest_updated_approved_enrollment_wins_among_approved_ones():
    user = make_user()
    make_profile(user)
    make_enrollment(user, status="approved", age=timedelta(days=3))
    latest = make_enrollment(user, linked=False, status="approved", age=timedelta(days=1))
    make_enrollment(user, linked=False, status="pending")

    assert state_of(user).e_id == latest.id


def test_greatest_id_breaks_a_tie_of_updated_at():
    user = make_user()
    make_profile(user)
    low = make_enrollment(user, linked=False, id=uuid.UUID("00000000-0000-4000-8000-000000000001"))
    high = make_enrollment(user, linked=False, id=uuid.UUID("ffffffff-0000-4000-8000-000000000001"))
    same_time = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    set_updated_at(low, same_time)
    set_updated_at(high, same_time)

    assert state_of(user).e_id == high.id


@pytest.mark.parametrize("greater", ["linked", "unlinked"])
def test_greatest_id_breaks_a_tie_between_the_linked_and_an_unlinked_enrollment(greater):
    user = make_user()
    make_profile(user)
    low_id = uuid.UUID("00000000-0000-4000-8000-000000000002")
    high_id = uuid.UUID("ffffffff-0000-4000-8000-000000000002")
    linked = make_enrollment(user, id=high_id if greater == "linked" else low_id)
    unlinked = make_enrollment(user, linked=False, id=low_id if greater == "linked" else high_id)
    same_time = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    set_updated_at(linked, same_time)
    set_updated_at(unlinked, same_time)

    state = state_of(user)

    assert state.e_id == (linked if greater == "linked" else unlinked).id
    assert state.enrollment_count == 2


def test_linked_approved_enrollment_stays_canonical_over_a_newer_pending_one_found_by_email():
    user = make_user()
    make_profile(user)
    linked = make_enrollment(user, status="approved", age=timedelta(days=30))
    make_enrollment(user, linked=False, status="pending", email=user.email.upper())

    state = state_of(user)

    assert state.e_id == linked.id
    assert state.link_problems == ["duplicate_enrollment"]


def test_two_therapists_with_one_normalised_email_each_count_the_enrollment_found_by_it():
    first = make_user("sade@example.com")
    second = make_user("SADE@example.com")
    enrollment = make_enrollment(email=" Sade@example.com", linked=False)

    states = {state.therapist_id: state for state in states_for_email("sade@example.com")}

    assert set(states) == {first.id, second.id}
    for state in states.values():
        assert state.e_id == enrollment.id
        assert state.enrollment_count == 1
        assert state.duplicate_user


def test_checks_compare_the_canonical_enrollment_not_the_duplicates(duplicate_enrollments):
    user, pending, approved = duplicate_enrollments
    # The stale duplicate disagrees with the profile; the canonical one agrees.
    TherapistEnrollment.objects.filter(pk=pending.pk).update(bio="Old bio", full_name="Old name")

    state = state_of(user)

    assert state.failing_checks == []
    assert state.bio_ok and state.name_ok and state.verification_ok


# ---------------------------------------------------------------------------
# avatar (docs/rules.md §3): three equal, placeholder = NULL
# ---------------------------------------------------------------------------


def test_avatar_is_consistent_when_all_three_urls_are_equal():
    url = "https://cdn.example.com/a.png"
    user, _, _ = make_therapist(
        user={"avatar_url": url}, enrollment={"profile_image_url": url}, profile={"profile_image_url": url}
    )
    assert state_of(user).avatar_ok


@pytest.mark.parametrize(
    "user_avatar, enrollment_image, profile_image",
    [
        (None, "/placeholder.svg", None),
        ("/placeholder.svg", None, "/placeholder.svg"),
        (None, None, "/placeholder.svg"),
    ],
    ids=["placeholder only in enrollment", "placeholder in user and profile", "placeholder only in profile"],
)
def test_avatar_placeholder_counts_as_no_image(user_avatar, enrollment_image, profile_image):
    user, _, _ = make_therapist(
        user={"avatar_url": user_avatar},
        enrollment={"profile_image_url": enrollment_image},
        profile={"profile_image_url": profile_image},
    )
    assert state_of(user).avatar_ok


@pytest.mark.parametrize("drifted", ["user", "enrollment", "profile"])
def test_avatar_is_inconsistent_when_any_one_table_differs(drifted):
    url = "https://cdn.example.com/a.png"
    rows = {
        "user": {"avatar_url": url},
        "enrollment": {"profile_image_url": url},
        "profile": {"profile_image_url": url},
    }
    column = next(iter(rows[drifted]))
    rows[drifted][column] = "https://cdn.example.com/new.png"
    user, _, _ = make_therapist(**rows)

    assert_only_failing(state_of(user), "avatar")


def test_avatar_uploaded_in_one_table_only_is_inconsistent():
    user, _, _ = make_therapist(user={"avatar_url": "https://cdn.example.com/a.png"})
    assert_only_failing(state_of(user), "avatar")


def test_avatar_empty_string_differs_from_no_image():
    user, _, _ = make_therapist(user={"avatar_url": ""})
    assert_only_failing(state_of(user), "avatar")


# ---------------------------------------------------------------------------
# bio (docs/rules.md §3): NULL-safe equality
# ---------------------------------------------------------------------------


def test_bio_is_consistent_when_equal():
    user, _, _ = make_therapist(enrollment={"bio": "Twenty years of CBT."}, profile={"bio": "Twenty years of CBT."})
    assert state_of(user).bio_ok


def test_bio_is_inconsistent_when_different():
    user, _, _ = make_therapist(profile={"bio": "Helps with anxiety and grief."})
    assert_only_failing(state_of(user), "bio")


def test_bio_null_in_both_tables_is_consistent():
    user, _, _ = make_therapist(enrollment={"bio": None}, profile={"bio": None})
    assert state_of(user).bio_ok


def test_bio_null_against_a_text_is_inconsistent():
    # The platform team's monitoring used "=", which never saw this drift.
    user, _, _ = make_therapist(profile={"bio": None})
    assert_only_failing(state_of(user), "bio")


def test_bio_empty_string_differs_from_null():
    user, _, _ = make_therapist(enrollment={"bio": ""}, profile={"bio": None})
    assert_only_failing(state_of(user), "bio")


# ---------------------------------------------------------------------------
# experience (docs/rules.md §3): equal, or the enrollment's unknown (NULL/0) and the profile's > 0
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "enrollment_years, profile_years",
    [(7, 7), (None, None), (0, 0), (0, 7), (None, 7)],
    ids=["equal", "both null", "both zero", "enrollment zero profile above", "enrollment null profile above"],
)
def test_experience_is_consistent(enrollment_years, profile_years):
    user, _, _ = make_therapist(
        enrollment={"experience_years": enrollment_years}, profile={"experience_years": profile_years}
    )
    assert state_of(user).experience_ok


@pytest.mark.parametrize(
    "enrollment_years, profile_years",
    [(3, 7), (7, 0), (7, None), (0, None), (None, 0)],
    ids=[
        "different",
        "enrollment above profile zero",
        "enrollment above profile null",
        "enrollment zero profile null",
        "enrollment null profile zero",
    ],
)
def test_experience_is_inconsistent(enrollment_years, profile_years):
    user, _, _ = make_therapist(
        enrollment={"experience_years": enrollment_years}, profile={"experience_years": profile_years}
    )
    assert_only_failing(state_of(user), "experience")


# ---------------------------------------------------------------------------
# verification (docs/rules.md §3)
# ---------------------------------------------------------------------------


def _verification_case(status, profile_status, profile_verified, user_verified):
    user, _, _ = make_therapist(
        user={"is_verified": user_verified},
        enrollment={"status": status},
        profile={"verification_status": profile_status, "is_verified": profile_verified},
    )
    return state_of(user)


@pytest.mark.parametrize(
    "status, profile_status, profile_verified, user_verified",
    [
        ("approved", "approved", True, True),
        ("approved", "verified", True, True),
        ("rejected", "rejected", False, False),
        ("pending", "pending", False, True),
        ("pending", "pending", False, False),
    ],
    ids=[
        "approved everywhere",
        "legacy verified means approved",
        "rejected everywhere",
        "pending with a signed-in user",
        "pending with a user never signed in",
    ],
)
def test_verification_is_consistent(status, profile_status, profile_verified, user_verified):
    assert _verification_case(status, profile_status, profile_verified, user_verified).verification_ok


@pytest.mark.parametrize(
    "status, profile_status, profile_verified, user_verified",
    [
        ("approved", "pending", True, True),
        ("approved", "approved", False, True),
        ("approved", "approved", True, False),
        ("rejected", "rejected", False, True),
        ("rejected", "approved", True, False),
        ("pending", "verified", True, True),
        ("pending", "pending", True, True),
    ],
    ids=[
        "approval did not reach the profile status",
        "approved but profile not verified",
        "approved but user not verified",
        "rejected but user verified",
        "rejected but profile approved",
        "pending but profile legacy verified",
        "pending but profile verified",
    ],
)
def test_verification_is_inconsistent(status, profile_status, profile_verified, user_verified):
    assert_only_failing(_verification_case(status, profile_status, profile_verified, user_verified), "verification")


# ---------------------------------------------------------------------------
# active and name (docs/rules.md §3): NULL-safe equality of user and enrollment
# ---------------------------------------------------------------------------


def test_active_is_consistent_when_both_inactive():
    user, _, _ = make_therapist(user={"is_active": False}, enrollment={"is_active": False})
    assert state_of(user).active_ok


def test_active_is_inconsistent_when_enrollment_deactivated_but_user_active():
    user, _, _ = make_therapist(enrollment={"is_active": False})
    assert_only_failing(state_of(user), "active")


def test_name_is_consistent_when_equal():
    user, _, _ = make_therapist(user={"full_name": "Dr. Amaka Eze"}, enrollment={"full_name": "Dr. Amaka Eze"})
    assert state_of(user).name_ok


def test_name_is_inconsistent_when_different():
    user, _, _ = make_therapist(user={"full_name": "Amaka Eze"}, enrollment={"full_name": "Dr. Amaka Eze"})
    assert_only_failing(state_of(user), "name")


def test_name_missing_on_the_user_is_inconsistent():
    user, _, _ = make_therapist(user={"full_name": None}, enrollment={"full_name": "Amaka Eze"})
    assert_only_failing(state_of(user), "name")


def test_name_empty_string_differs_from_null():
    user, _, _ = make_therapist(user={"full_name": None}, enrollment={"full_name": ""})
    assert_only_failing(state_of(user), "name")


def test_name_comparison_is_case_sensitive():
    user, _, _ = make_therapist(user={"full_name": "amaka eze"}, enrollment={"full_name": "Amaka Eze"})
    assert_only_failing(state_of(user), "name")


# ---------------------------------------------------------------------------
# specializations (docs/rules.md §3): case-insensitive sets, NULL = empty, legacy text normalised
# ---------------------------------------------------------------------------


def test_specializations_equal_as_case_insensitive_sets_are_consistent():
    user, _, _ = make_therapist(
        enrollment={"specializations": ["Anxiety", "CBT", "Grief"]},
        profile={"specializations": ["grief", "cbt", "ANXIETY", "Cbt"]},
    )
    assert state_of(user).specializations_ok


def test_specializations_that_differ_are_inconsistent():
    user, _, _ = make_therapist(
        enrollment={"specializations": ["Anxiety", "CBT", "Grief"]},
        profile={"specializations": ["Anxiety", "CBT"]},
    )
    assert_only_failing(state_of(user), "specializations")


@pytest.mark.parametrize(
    "enrollment_list, profile_list",
    [(None, None), ([], None), (None, []), ([], [])],
    ids=["both null", "empty and null", "null and empty", "both empty"],
)
def test_specializations_null_and_empty_are_the_same(enrollment_list, profile_list):
    user, _, _ = make_therapist(
        enrollment={"specializations": enrollment_list, "specialization": None},
        profile={"specializations": profile_list},
    )
    assert state_of(user).specializations_ok


def test_specializations_empty_against_a_list_is_inconsistent():
    user, _, _ = make_therapist(enrollment={"specializations": None, "specialization": None})
    assert_only_failing(state_of(user), "specializations")


def test_specializations_array_takes_precedence_over_the_legacy_text():
    user, _, _ = make_therapist(
        enrollment={"specializations": ["Anxiety", "CBT"], "specialization": "Couples therapy"},
    )
    state = state_of(user)
    assert state.e_list == ["Anxiety", "CBT"]
    assert state.specializations_ok


@pytest.mark.parametrize("empty_array", [None, []], ids=["null array", "empty array"])
def test_specializations_fall_back_to_the_legacy_text(empty_array):
    user, _, _ = make_therapist(
        enrollment={"specializations": empty_array, "specialization": "Anxiety, CBT"},
    )
    state = state_of(user)
    assert state.e_list == ["Anxiety", "CBT"]
    assert state.specializations_ok


@pytest.mark.parametrize(
    "legacy_text, expected",
    [
        ("Anxiety, Depression", ["Anxiety", "Depression"]),
        ("anxiety;  depression", ["anxiety", "depression"]),
        ("Anxiety; CBT, Grief", ["Anxiety", "CBT", "Grief"]),
        ('["CBT","DBT"]', ["CBT", "DBT"]),
        ('[ "CBT" , "Family  therapy", "Work, stress" ]', ["CBT", "Family therapy", "Work, stress"]),
        ('  ["CBT"]', ["CBT"]),
        ('["Say \\"no\\""]', ['Say "no"']),
        ('\n["CBT", "DBT"]\n', ["CBT", "DBT"]),
        ('["Th\\u00e9rapie","Art\\\\Music"]', ["Thérapie", "Art\\Music"]),
        ('["Null\\u0000byte", "Bad \\q escape"]', ["Null\\u0000byte", "Bad \\q escape"]),
        ("[CBT, DBT]", ["CBT", "DBT"]),
        ("", None),
        ("  ", None),
        (" , ;; ", None),
        ("[]", None),
        ("CBT, cbt; Cbt, Anxiety", ["CBT", "Anxiety"]),
        ('["cbt","CBT"]', ["cbt"]),
        ("Family \t  therapy ,  Grief\n counselling", ["Family therapy", "Grief counselling"]),
        ("Trauma, Anxiety, CBT", ["Trauma", "Anxiety", "CBT"]),
        ("Anxiety,,CBT;", ["Anxiety", "CBT"]),
        ("Anxiety", ["Anxiety"]),
    ],
    ids=[
        "comma list",
        "semicolon list with extra spaces",
        "mixed separators",
        "JSON array",
        "JSON array with spaces and a comma inside an item",
        "JSON array after leading spaces",
        "JSON array with escaped quotes",
        "JSON array between newlines",
        "JSON escapes decoded",
        "JSON escapes PostgreSQL cannot hold kept as written",
        "bracketed list without quotes",
        "empty string",
        "only spaces",
        "only separators",
        "empty JSON array",
        "case-insensitive duplicates keep the first spelling",
        "JSON case-insensitive duplicates",
        "inner white space collapsed",
        "order kept",
        "empty items dropped",
        "single item",
    ],
)
def test_legacy_specialization_text_is_normalised(legacy_text, expected):
    user, _, _ = make_therapist(enrollment={"specializations": None, "specialization": legacy_text})
    assert state_of(user).e_list == expected


def test_legacy_list_matches_the_profile_as_a_case_insensitive_set():
    user, _, _ = make_therapist(
        enrollment={"specializations": None, "specialization": "anxiety;  family   therapy"},
        profile={"specializations": ["Family therapy", "Anxiety"]},
    )
    assert state_of(user).specializations_ok


def test_legacy_list_that_differs_from_the_profile_is_inconsistent():
    user, _, _ = make_therapist(
        enrollment={"specializations": None, "specialization": '["CBT","DBT"]'},
        profile={"specializations": ["CBT"]},
    )
    assert_only_failing(state_of(user), "specializations")


def test_empty_legacy_text_matches_a_profile_without_specializations():
    user, _, _ = make_therapist(
        enrollment={"specializations": [], "specialization": ""},
        profile={"specializations": None},
    )
    assert state_of(user).specializations_ok


# ---------------------------------------------------------------------------
# Field checks only where there is a canonical enrollment and a profile (docs/rules.md §3)
# ---------------------------------------------------------------------------


def test_field_checks_are_not_applicable_without_a_profile():
    user, _, _ = make_therapist(profile=False)
    state = state_of(user)
    assert all(state.row[f"{check}_ok"] is None for check in CHECK_NAMES)
    assert state.failing_checks == []


def test_field_checks_are_not_applicable_without_an_enrollment():
    user, _, _ = make_therapist(enrollment=False)
    state = state_of(user)
    assert all(state.row[f"{check}_ok"] is None for check in CHECK_NAMES)


# ---------------------------------------------------------------------------
# Link problems (docs/rules.md §3)
# ---------------------------------------------------------------------------


def test_unlinked_canonical_enrollment_is_a_link_problem():
    user = make_user()
    make_profile(user)
    make_enrollment(user, linked=False)

    state = state_of(user)

    assert state.link_problems == ["unlinked_enrollment"]
    assert state.failing_checks == []
    assert not state.consistent


def test_linked_duplicate_does_not_hide_an_unlinked_canonical_enrollment(duplicate_enrollments):
    user, _, _ = duplicate_enrollments
    assert state_of(user).link_problems == ["unlinked_enrollment", "duplicate_enrollment"]


def test_therapist_without_enrollment_is_missing_enrollment():
    user, _, _ = make_therapist(enrollment=False)
    state = state_of(user)
    assert state.link_problems == ["missing_enrollment"]
    assert not state.consistent


def test_therapist_without_profile_is_missing_profile():
    user, _, _ = make_therapist(profile=False)
    state = state_of(user)
    assert state.link_problems == ["missing_profile"]
    assert not state.consistent


def test_therapist_with_neither_row_has_both_problems():
    user, _, _ = make_therapist(enrollment=False, profile=False)
    assert state_of(user).link_problems == ["missing_enrollment", "missing_profile"]


def test_therapist_with_two_enrollments_has_duplicate_enrollment():
    user, _, _ = make_therapist()
    make_enrollment(user, linked=False, status="pending", email=f" {user.email.upper()}")

    state = state_of(user)

    assert state.link_problems == ["duplicate_enrollment"]
    assert state.failing_checks == []
    assert not state.consistent


def test_users_whose_emails_differ_only_in_case_or_spaces_are_duplicate_users():
    first, _, _ = make_therapist("Femi@example.com")
    second, _, _ = make_therapist(" femi@example.com")
    single, _, _ = make_therapist("tolu@example.com")

    assert state_of(first).link_problems == ["duplicate_user"]
    assert state_of(second).link_problems == ["duplicate_user"]
    assert not state_of(first).consistent
    assert state_of(single).consistent


@pytest.mark.parametrize(
    "therapist_email, other_email",
    [("yemi@example.com", "Yemi@example.com"), ("Yemi@example.com ", "yemi@example.com")],
    ids=["the therapist's email is normalised", "the other user's email is normalised"],
)
def test_therapist_sharing_its_normalised_email_with_a_client_is_a_duplicate_user(therapist_email, other_email):
    therapist, _, _ = make_therapist(therapist_email)
    make_user(other_email, user_type="individual")

    assert state_of(therapist).link_problems == ["duplicate_user"]


def test_duplicate_user_counts_every_user_of_the_group():
    make_therapist("femi@example.com")
    make_therapist("FEMI@example.com")
    make_user("Femi@Example.com ", user_type="individual")
    make_therapist("bola@example.com")
    make_user("bola@EXAMPLE.com", user_type="therapist")

    link_problems = compute_metrics()["link_problems"]

    assert link_problems["duplicate_user"] == 5


def test_duplicate_users_without_a_therapist_are_not_counted():
    make_user("client@example.com", user_type="individual")
    make_user("CLIENT@example.com", user_type="partner")
    make_therapist()

    assert compute_metrics()["link_problems"]["duplicate_user"] == 0


def test_approved_enrollment_matching_no_user_is_an_orphan():
    make_enrollment(email="Nobody@Example.com", linked=False, status="approved")
    make_enrollment(email="ghost@example.com", linked=False, status="approved")
    make_therapist()

    assert compute_metrics()["link_problems"]["orphan_enrollment"] == 2


def test_orphan_enrollment_counts_only_the_canonical_enrollment_of_an_email():
    make_enrollment(email="nobody@example.com", linked=False, status="approved", age=timedelta(days=2))
    make_enrollment(email=" NOBODY@example.com", linked=False, status="approved")

    assert compute_metrics()["link_problems"]["orphan_enrollment"] == 1


@pytest.mark.parametrize(
    "situation",
    ["pending", "rejected and pending, none approved", "email matches a user in another case"],
)
def test_enrollment_that_is_not_an_orphan(situation):
    if situation == "pending":
        make_enrollment(email="nobody@example.com", linked=False, status="pending")
    elif situation == "rejected and pending, none approved":
        make_enrollment(email="nobody@example.com", linked=False, status="rejected")
        make_enrollment(email="nobody@example.com", linked=False, status="pending")
    else:
        make_user("Somebody@Example.com", user_type="individual")
        make_enrollment(email=" somebody@example.com", linked=False, status="approved")

    assert compute_metrics()["link_problems"]["orphan_enrollment"] == 0


# ---------------------------------------------------------------------------
# Metrics over everyone (docs/rules.md §7)
# ---------------------------------------------------------------------------


def test_metrics_count_therapists_per_failing_check_and_link_problem():
    make_therapist()
    make_therapist()
    make_therapist(profile={"bio": "Different", "experience_years": 1})
    make_therapist(user={"is_active": False})
    make_therapist(profile=False)
    make_therapist(enrollment=False)
    user = make_user()
    make_profile(user)
    make_enrollment(user, linked=False)

    metrics = compute_metrics()

    assert metrics["therapists"] == 7
    assert metrics["consistent"] == 2
    assert metrics["inconsistent"] == {
        "avatar": 0,
        "bio": 1,
        "experience": 1,
        "verification": 0,
        "active": 1,
        "name": 0,
        "specializations": 0,
    }
    assert metrics["link_problems"] == {
        "unlinked_enrollment": 1,
        "missing_enrollment": 1,
        "missing_profile": 1,
        "duplicate_enrollment": 0,
        "duplicate_user": 0,
        "orphan_enrollment": 0,
    }


def test_metrics_of_an_empty_platform_are_zero():
    metrics = compute_metrics()
    assert metrics["therapists"] == 0
    assert metrics["consistent"] == 0
    assert set(metrics["inconsistent"].values()) == {0}
    assert set(metrics["link_problems"].values()) == {0}
