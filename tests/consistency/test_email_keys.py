"""
One therapist on a large platform without the recommended indexes: its other spellings
and unlinked enrollments are read through opsdash's lookup (consistency.engine.email_keys),
refreshed with every snapshot, and give what the whole tables give.
"""

import pytest
from django.db import connections

from consistency.engine import email_keys, repair
from consistency.engine.checks import BY_NORMALISED_EMAIL, states_for_email, therapist_states
from consistency.models import EmailKey
from consistency.platform.seed import seed_platform
from consistency.reporting.snapshots import take_snapshot
from tests.factories import make_enrollment, make_profile, make_therapist, make_user

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def large(settings):
    """Every platform counts as large: the lookup is used wherever the indexes are missing."""
    settings.OPSDASH_EMAIL_KEYS_MIN_USERS = 0


@pytest.fixture
def spellings():
    """Therapists with twins spelled otherwise, unlinked enrollments and a shared email."""
    seed_platform(200, 0.3, seed=9, replace=True)
    emails = []
    for n in range(3):
        make_therapist(f"Twin{n}@Example.com")
        make_user(f" twin{n}@example.com", user_type="therapist" if n % 2 else "individual")
        user = make_user(f" Solo{n}@example.com")
        make_enrollment(user, linked=False, email=f"solo{n}@EXAMPLE.com ")
        make_profile(user)
        emails += [f"twin{n}@example.com", f"solo{n}@example.com"]
    return emails


def exact_states(email):
    """The therapists of an email as a pass over the whole tables finds them."""
    return [s.row for s in therapist_states(BY_NORMALISED_EMAIL, {"email": email})]


def platform_rows_needing_the_expression():
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "select (select count(*) from users where email <> lower(btrim(email)))"
            " + (select count(*) from therapist_enrollments where user_id is null)"
        )
        return cursor.fetchone()[0]


def test_one_therapist_read_through_the_lookup_is_what_the_whole_tables_give(large, spellings):
    assert email_keys.in_use() is None  # no snapshot has filled it yet
    take_snapshot()
    assert email_keys.in_use() is not None
    assert EmailKey.objects.count() == platform_rows_needing_the_expression() > 0
    with connections["platform"].cursor() as cursor:
        cursor.execute("select email from users where user_type = 'therapist' order by id limit 40")
        emails = spellings + [row[0] for row in cursor.fetchall()]
    twins = unlinked = 0
    for email in emails:
        states = [s.row for s in states_for_email(email)]
        assert states == exact_states(email), email
        assert states, email
        twins += any(s["duplicate_user"] for s in states)
        unlinked += any(s["unlinked_enrollment"] for s in states)
        assert repair.therapist_ids_for_email(email) == [s["therapist_id"] for s in states]
        assert repair.preview_email(email) == _exact_preview(email)
    assert twins >= 3 and unlinked >= 3


def _exact_preview(email):
    from django.test import override_settings

    with override_settings(OPSDASH_EMAIL_KEYS_MIN_USERS=10**12):
        return repair.preview_email(email)


def test_rows_added_or_respelled_after_the_snapshot_count_from_the_next_one(large, spellings):
    take_snapshot()
    user, _, _ = make_therapist("late@example.com")
    make_enrollment(user, linked=False, email=" LATE@example.com", status="approved")
    make_user("Late@Example.com ", user_type="individual")
    [state] = states_for_email("late@example.com")
    assert (state.enrollment_count, state.duplicate_user) == (1, False)
    # A twin spelled otherwise since: no longer one under its old email, at once.
    with connections["platform"].cursor() as cursor:
        cursor.execute("update users set email = 'moved@example.com' where email = ' twin1@example.com'")
    assert [s.duplicate_user for s in states_for_email("twin1@example.com")] == [False]
    take_snapshot()
    [state] = states_for_email("late@example.com")
    assert (state.enrollment_count, state.duplicate_user) == (2, True)
    assert state.row == exact_states("late@example.com")[0]


def test_with_the_recommended_indexes_or_on_a_small_platform_the_tables_are_read(large, settings, spellings):
    take_snapshot()
    # After the snapshot: only the tables know it.
    make_enrollment(None, linked=False, email="TWIN0@example.com", status="pending")

    def enrollments():
        [state] = states_for_email("twin0@example.com")
        return state.enrollment_count

    assert email_keys.in_use() is not None and enrollments() == 1
    settings.OPSDASH_EMAIL_KEYS_MIN_USERS = 10**9
    assert email_keys.in_use() is None and enrollments() == 2  # a small platform
    settings.OPSDASH_EMAIL_KEYS_MIN_USERS = 0
    with connections["platform"].cursor() as cursor:
        cursor.execute("create index opsdash_users_email_norm_idx on users (lower(btrim(email)))")
        cursor.execute("create index opsdash_enrollments_email_norm_idx on therapist_enrollments (lower(btrim(email)))")
    assert email_keys.in_use() is None and enrollments() == 2
    # No longer needed: the next snapshot empties it rather than refreshing it.
    take_snapshot()
    assert not EmailKey.objects.exists() and email_keys.lookup("twin0@example.com") is None


def test_the_therapist_page_says_when_its_rows_come_from_the_lookup(large, settings, viewer_client, spellings):
    take_snapshot()
    page = "/therapists/?email=Twin1@example.com"
    html = viewer_client.get(page).content.decode()
    assert 'id="email-keys-note"' in html and "platform_setup" in html
    assert email_keys.in_use().strftime("%Y-%m-%d %H:%M") in html
    assert "twin1@example.com" in html and "duplicate user" in html.lower()
    settings.OPSDASH_EMAIL_KEYS_MIN_USERS = 10**9
    assert 'id="email-keys-note"' not in viewer_client.get(page).content.decode()
