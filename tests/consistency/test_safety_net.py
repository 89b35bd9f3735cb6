"""
The safety-net triggers against a real PostgreSQL (docs/rules.md §5).

Most tests install the safety net inside the test's transaction: the triggers fire
there as they would in production, and the DDL is rolled back with the test. Tests
that must see a commit say so and clean up after themselves.
"""

from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connections

from consistency.engine.checks import states_for_ids
from consistency.safety_net import service as safety_net
from interventions.models import Intervention
from tests.factories import make_enrollment, make_therapist, make_user

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

PLACEHOLDER = "/placeholder.svg"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def platform_sql(statement, params=None):
    """Run one statement on the platform database and return its rows, if any."""
    with connections["platform"].cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def fresh(row):
    """Return the row as the database has it now."""
    return type(row).objects.get(pk=row.pk)


def set_long_ago(*rows):
    """Move updated_at of the rows into the past, so that a write by the triggers shows."""
    for row in rows:
        type(row).objects.filter(pk=row.pk).update(updated_at=LONG_AGO)


def update(row, **values):
    """UPDATE only the given columns of one row, as the platform's app does."""
    type(row).objects.filter(pk=row.pk).update(**values)


@pytest.fixture
def installed():
    return safety_net.install()


@pytest.fixture
def ann(installed):
    """A consistent therapist, every row last updated long ago."""
    user, enrollment, profile = make_therapist(email="ann@example.com")
    set_long_ago(user, enrollment, profile)
    return user, enrollment, profile


@pytest.fixture
def platform_warnings():
    """Collect the WARNINGs the platform database sends this connection."""
    connection = connections["platform"]
    connection.ensure_connection()
    warnings = []

    def collect(diagnostic):
        if diagnostic.severity_nonlocalized == "WARNING":
            warnings.append(diagnostic.message_primary)

    connection.connection.add_notice_handler(collect)
    yield warnings
    connection.connection.remove_notice_handler(collect)


@pytest.fixture
def profiles_reject_gif_images():
    """A constraint on therapist_profiles that the propagation of a .gif avatar breaks."""
    platform_sql(
        "alter table therapist_profiles add constraint no_gif_images"
        " check (profile_image_url not like '%%.gif') not valid"
    )
    yield
    platform_sql("alter table therapist_profiles drop constraint if exists no_gif_images")


def catalog_snapshot():
    """Return the triggers, functions, indexes and comments of the platform database."""
    return {
        "triggers": platform_sql(
            "select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid), tgenabled"
            " from pg_trigger where not tgisinternal order by 1, 2"
        ),
        "functions": platform_sql(
            "select p.oid::regprocedure::text, pg_get_functiondef(p.oid) from pg_proc p"
            " join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname not in ('pg_catalog', 'information_schema') and p.prokind = 'f' order by 1"
        ),
        "indexes": platform_sql(
            "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) from pg_index i"
            " join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') order by 1"
        ),
        # Objects made after initdb; the comments of dropped objects must go with them.
        "comments": platform_sql(
            "select classoid::regclass::text, objoid::text, objsubid, description from pg_description"
            " where objoid >= 16384 order by 1, 2, 3"
        ),
    }


# Avatar ---------------------------------------------------------------------------------


def test_user_avatar_reaches_enrollment_and_profile(ann):
    user, enrollment, profile = ann
    update(user, avatar_url="https://cdn.example.com/ann.png")

    assert fresh(enrollment).profile_image_url == "https://cdn.example.com/ann.png"
    assert fresh(profile).profile_image_url == "https://cdn.example.com/ann.png"
    assert states_for_ids([user.id])[0].avatar_ok


def test_enrollment_avatar_reaches_user_and_profile(ann):
    user, enrollment, profile = ann
    update(enrollment, profile_image_url="https://cdn.example.com/ann.png")

    assert fresh(user).avatar_url == "https://cdn.example.com/ann.png"
    assert fresh(profile).profile_image_url == "https://cdn.example.com/ann.png"


def test_profile_avatar_reaches_user_and_enrollment(ann):
    user, enrollment, profile = ann
    update(profile, profile_image_url="https://cdn.example.com/ann.png")

    assert fresh(user).avatar_url == "https://cdn.example.com/ann.png"
    assert fresh(enrollment).profile_image_url == "https://cdn.example.com/ann.png"


def test_written_rows_get_a_new_updated_at(ann):
    user, enrollment, profile = ann
    update(user, avatar_url="https://cdn.example.com/ann.png")

    assert fresh(enrollment).updated_at > LONG_AGO
    assert fresh(profile).updated_at > LONG_AGO


def test_removed_avatar_means_no_image_everywhere(installed):
    image = "https://cdn.example.com/bob.png"
    user, enrollment, profile = make_therapist(
        user={"avatar_url": image}, enrollment={"profile_image_url": image}, profile={"profile_image_url": image}
    )
    update(profile, profile_image_url=None)

    assert fresh(user).avatar_url is None
    # The enrollment says "no image" the way the platform does.
    assert fresh(enrollment).profile_image_url == PLACEHOLDER


def test_placeholder_and_null_are_the_same_image(ann):
    user, enrollment, profile = ann
    update(enrollment, profile_image_url=None)
    update(profile, profile_image_url=PLACEHOLDER)

    assert fresh(user).updated_at == LONG_AGO
    assert fresh(user).avatar_url is None
    assert fresh(enrollment).profile_image_url is None


# Bio and experience ------------------------------------------------------------------


def test_enrollment_bio_and_experience_reach_profile(ann):
    user, enrollment, profile = ann
    update(enrollment, bio="Trauma-informed CBT.", experience_years=12)

    profile = fresh(profile)
    assert (profile.bio, profile.experience_years) == ("Trauma-informed CBT.", 12)
    [state] = states_for_ids([user.id])
    assert state.bio_ok and state.experience_ok


def test_profile_bio_and_experience_reach_enrollment(ann):
    _, enrollment, profile = ann
    update(profile, bio="Trauma-informed CBT.", experience_years=12)

    enrollment = fresh(enrollment)
    assert (enrollment.bio, enrollment.experience_years) == ("Trauma-informed CBT.", 12)


def test_only_the_changed_column_propagates(installed):
    user, enrollment, profile = make_therapist(profile={"bio": "An older bio."})
    update(enrollment, experience_years=9)

    profile = fresh(profile)
    assert profile.experience_years == 9
    # The bios differed before this update: that is the repair's business, not the trigger's.
    assert profile.bio == "An older bio."


def test_unknown_enrollment_experience_keeps_the_profile_experience(ann):
    _, enrollment, profile = ann
    update(enrollment, experience_years=0)

    # docs/rules.md §3: an enrollment's 0 means "unknown" and agrees with the profile's 5.
    profile = fresh(profile)
    assert profile.experience_years == 5
    assert profile.updated_at == LONG_AGO


# Verification --------------------------------------------------------------------------


def test_approval_verifies_profile_and_user(installed):
    user, enrollment, profile = make_therapist(
        user={"is_verified": False},
        enrollment={"status": "pending"},
        profile={"verification_status": "pending", "is_verified": False},
    )
    update(enrollment, status="approved")

    profile = fresh(profile)
    assert (profile.verification_status, profile.is_verified) == ("approved", True)
    assert fresh(user).is_verified is True
    assert states_for_ids([user.id])[0].verification_ok


def test_rejection_unverifies_profile_and_user(ann):
    user, enrollment, profile = ann
    update(enrollment, status="rejected")

    profile = fresh(profile)
    assert (profile.verification_status, profile.is_verified) == ("rejected", False)
    assert fresh(user).is_verified is False
    # Unlike the original script, a rejection leaves the account active (docs/rules.md §4).
    assert fresh(user).is_active is True


def test_back_to_pending_leaves_user_verification_alone(ann):
    user, enrollment, profile = ann
    update(enrollment, status="pending")

    profile = fresh(profile)
    assert (profile.verification_status, profile.is_verified) == ("pending", False)
    # Every sign-in verifies the user, pending or not: not the trigger's to undo.
    assert fresh(user).is_verified is True
    assert fresh(user).updated_at == LONG_AGO


def test_legacy_verified_profile_is_left_alone_on_approval(installed):
    _, enrollment, profile = make_therapist(
        enrollment={"status": "pending"}, profile={"verification_status": "verified", "is_verified": True}
    )
    set_long_ago(profile)
    update(enrollment, status="approved")

    profile = fresh(profile)
    assert profile.verification_status == "verified"
    assert profile.updated_at == LONG_AGO


# Linking (docs/rules.md §2) ---------------------------------------------------------------------


@pytest.fixture
def unlinked_carol(installed):
    """A therapist whose enrollment has no user_id and an email differing in case and spaces."""
    user, _, profile = make_therapist(email=" Carol@Example.com", enrollment=False)
    enrollment = make_enrollment(user, email="carol@example.com", linked=False)
    set_long_ago(user, enrollment, profile)
    return user, enrollment, profile


def test_user_avatar_reaches_an_unlinked_enrollment_by_normalised_email(unlinked_carol):
    user, enrollment, _ = unlinked_carol
    update(user, avatar_url="https://cdn.example.com/carol.png")

    assert fresh(enrollment).profile_image_url == "https://cdn.example.com/carol.png"


def test_unlinked_enrollment_reaches_its_user_and_profile(unlinked_carol):
    user, enrollment, profile = unlinked_carol
    update(enrollment, status="rejected", bio="Couples therapy.")

    assert fresh(user).is_verified is False
    profile = fresh(profile)
    assert (profile.verification_status, profile.bio) == ("rejected", "Couples therapy.")


@pytest.fixture
def dave_with_duplicates(installed):
    """A therapist with an approved enrollment and a newer pending duplicate."""
    user, canonical, profile = make_therapist(email="dave@example.com")
    set_long_ago(user, canonical, profile)
    duplicate = make_enrollment(user, linked=False, status="pending")
    return user, canonical, duplicate, profile


def test_only_the_canonical_enrollment_is_written(dave_with_duplicates):
    user, canonical, duplicate, _ = dave_with_duplicates
    update(user, avatar_url="https://cdn.example.com/dave.png")

    assert fresh(canonical).profile_image_url == "https://cdn.example.com/dave.png"
    assert fresh(duplicate).profile_image_url == PLACEHOLDER
    # The checks engine picks the same canonical enrollment and sees the avatar agree.
    [state] = states_for_ids([user.id])
    assert state.e_id == canonical.id and state.avatar_ok


def test_an_update_of_a_duplicate_enrollment_propagates_nothing(dave_with_duplicates):
    user, _, duplicate, profile = dave_with_duplicates
    update(duplicate, profile_image_url="https://cdn.example.com/old.png", bio="An abandoned draft.")

    assert fresh(user).avatar_url is None
    assert fresh(profile).bio == "Helps with anxiety."


def test_canonical_enrollment_agrees_with_the_checks(installed):
    approved_older, _, _ = make_therapist(enrollment={"status": "approved"})
    make_enrollment(approved_older, linked=False, status="pending")
    two_pending, _, _ = make_therapist(enrollment={"status": "pending"})
    make_enrollment(two_pending, linked=False, status="rejected")
    only_unlinked, _, _ = make_therapist(email="Eve@Example.com", enrollment=False)
    make_enrollment(only_unlinked, email=" eve@example.COM", linked=False)
    ids = [approved_older.id, two_pending.id, only_unlinked.id]

    rows = platform_sql(
        "select id, opsdash_canonical_enrollment(id, lower(btrim(email))) from users where id = any(%s)",
        [ids],
    )
    picked = dict(rows)
    assert {state.therapist_id: state.e_id for state in states_for_ids(ids)} == picked


# No needless writes -------------------------------------------------------------------


def test_rows_already_equal_are_not_rewritten(installed):
    image = "https://cdn.example.com/new.png"
    user, enrollment, profile = make_therapist(profile={"profile_image_url": image})
    set_long_ago(user, enrollment, profile)
    update(user, avatar_url=image)

    assert fresh(enrollment).updated_at > LONG_AGO
    assert fresh(profile).updated_at == LONG_AGO


def test_rewriting_the_same_value_touches_nothing(ann):
    user, enrollment, profile = ann
    update(user, avatar_url=None, full_name=user.full_name)
    update(enrollment, bio=enrollment.bio, experience_years=enrollment.experience_years, status="approved")
    update(profile, bio=profile.bio, profile_image_url=None)

    for row in (user, enrollment, profile):
        assert fresh(row).updated_at == LONG_AGO


# No loops ------------------------------------------------------------------------------


def test_two_tables_changed_in_one_statement_end_up_agreeing(ann):
    user, enrollment, profile = ann
    platform_sql(
        "with changed_user as (update users set avatar_url = 'https://cdn.example.com/x.png' where id = %s)"
        " update therapist_profiles set profile_image_url = 'https://cdn.example.com/y.png' where id = %s",
        [user.id, profile.id],
    )

    images = {fresh(user).avatar_url, fresh(enrollment).profile_image_url, fresh(profile).profile_image_url}
    assert len(images) == 1
    assert images <= {"https://cdn.example.com/x.png", "https://cdn.example.com/y.png"}


def test_both_sides_of_the_bio_changed_in_one_statement_end_up_agreeing(ann):
    _, enrollment, profile = ann
    platform_sql(
        "with changed_enrollment as (update therapist_enrollments set bio = 'From the enrollment.' where id = %s)"
        " update therapist_profiles set bio = 'From the profile.' where id = %s",
        [enrollment.id, profile.id],
    )

    assert fresh(enrollment).bio == fresh(profile).bio


def test_two_tables_changed_in_one_transaction_end_with_the_last_change(ann):
    user, enrollment, profile = ann
    update(user, avatar_url="https://cdn.example.com/first.png")
    update(profile, profile_image_url="https://cdn.example.com/second.png")
    update(enrollment, bio="Last word.")
    update(profile, bio="Really the last word.")

    assert fresh(user).avatar_url == "https://cdn.example.com/second.png"
    assert fresh(enrollment).profile_image_url == "https://cdn.example.com/second.png"
    assert fresh(enrollment).bio == "Really the last word."


# What the triggers leave alone -----------------------------------------------------------


def test_non_therapist_changes_touch_nothing(installed):
    client = make_user("frank@example.com", user_type="individual")
    enrollment = make_enrollment(client, linked=True)
    other = make_enrollment(None, email="Frank@example.com", linked=False)
    set_long_ago(enrollment, other)
    update(client, avatar_url="https://cdn.example.com/frank.png")
    update(enrollment, status="rejected", bio="Not a therapist.")
    update(other, profile_image_url="https://cdn.example.com/other.png")

    assert fresh(enrollment).profile_image_url == PLACEHOLDER
    assert fresh(other).updated_at == LONG_AGO
    assert fresh(client).is_verified is True
    assert fresh(client).avatar_url == "https://cdn.example.com/frank.png"


def test_unrelated_column_updates_touch_nothing(ann):
    user, enrollment, profile = ann
    platform_sql(
        "update users set full_name = 'Ann B.', phone = '+234 1', last_login_at = now() where id = %s", [user.id]
    )
    platform_sql("update therapist_enrollments set phone = '+234 2', is_active = false where id = %s", [enrollment.id])
    platform_sql("update therapist_profiles set hourly_rate = 90 where id = %s", [profile.id])

    assert fresh(profile).updated_at == LONG_AGO
    assert fresh(enrollment).updated_at == LONG_AGO
    assert fresh(user).updated_at == LONG_AGO


# Failures --------------------------------------------------------------------------------


@pytest.fixture
def committed_safety_net(committed_platform):
    """The safety net installed and committed; rolled back after the test."""
    safety_net.install()
    yield
    safety_net.rollback()


@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_failed_propagation_keeps_the_committed_update_and_logs_one_intervention(
    committed_safety_net, profiles_reject_gif_images
):
    user, enrollment, profile = make_therapist(email=" Grace@Example.com")
    update(user, avatar_url="https://cdn.example.com/grace.gif")

    # A fresh connection sees what was committed.
    connections["platform"].close()
    assert fresh(user).avatar_url == "https://cdn.example.com/grace.gif"
    # The propagation is undone as a whole: no half-synced enrollment.
    assert fresh(enrollment).profile_image_url == PLACEHOLDER
    assert fresh(profile).profile_image_url is None
    [intervention] = Intervention.objects.all()
    assert intervention.operation == "avatar-sync"
    assert intervention.entity_id == "grace@example.com"
    assert "no_gif_images" in intervention.error
    assert intervention.payload["avatar_url"] == "https://cdn.example.com/grace.gif"
    assert intervention.payload["trigger"] == "opsdash_sync_avatar_from_users"


def test_a_second_failure_logs_no_second_intervention(ann, profiles_reject_gif_images):
    user, enrollment, _ = ann
    update(user, avatar_url="https://cdn.example.com/one.gif")
    update(enrollment, profile_image_url="https://cdn.example.com/two.gif")

    assert Intervention.objects.filter(operation="avatar-sync", entity_id="ann@example.com").count() == 1
    assert fresh(enrollment).profile_image_url == "https://cdn.example.com/two.gif"


def test_a_failure_after_the_last_one_was_resolved_is_logged_again(ann, profiles_reject_gif_images):
    user, _, _ = ann
    update(user, avatar_url="https://cdn.example.com/one.gif")
    Intervention.objects.update(resolved=True, resolved_by="ops")
    update(user, avatar_url="https://cdn.example.com/two.gif")

    assert Intervention.objects.filter(resolved=False).count() == 1


def test_a_failure_raises_a_warning(ann, profiles_reject_gif_images, platform_warnings):
    user, _, _ = ann
    update(user, avatar_url="https://cdn.example.com/ann.gif")

    [warning] = platform_warnings
    assert "avatar sync from users failed for ann@example.com" in warning


def test_a_failure_to_log_still_keeps_the_update(ann, profiles_reject_gif_images, platform_warnings):
    user, _, _ = ann
    platform_sql("alter table manual_intervention_log add constraint log_nothing check (false) not valid")
    update(user, avatar_url="https://cdn.example.com/ann.gif")

    assert fresh(user).avatar_url == "https://cdn.example.com/ann.gif"
    assert Intervention.objects.count() == 0
    assert any("could not log the avatar-sync failure of ann@example.com" in w for w in platform_warnings)


@pytest.mark.parametrize(
    ("function", "warning"),
    [
        ("opsdash_log_sync_failure(text, text, text, jsonb)", "could not log the avatar-sync failure"),
        ("opsdash_report_sync_failure(text, text, text, text, jsonb)", "could not report the avatar-sync failure"),
    ],
    ids=["log", "report"],
)
def test_a_missing_helper_function_still_keeps_the_update(
    ann, profiles_reject_gif_images, platform_warnings, function, warning
):
    user, _, _ = ann
    platform_sql(f"drop function {function}")
    update(user, avatar_url="https://cdn.example.com/ann.gif")

    assert fresh(user).avatar_url == "https://cdn.example.com/ann.gif"
    assert Intervention.objects.count() == 0
    assert any(f"{warning} of ann@example.com" in w for w in platform_warnings)


def test_every_trigger_function_reports_its_failures_through_the_one_helper(installed):
    [[definitions]] = platform_sql(
        "select string_agg(pg_get_functiondef(p.oid), ' ') from pg_proc p"
        " where p.proname in ('opsdash_sync_avatar', 'opsdash_sync_profile_data', 'opsdash_sync_verification')"
    )
    assert definitions.count("perform opsdash_report_sync_failure(") == 3
    assert "opsdash_log_sync_failure" not in definitions


def test_each_propagation_logs_under_its_own_operation(ann):
    user, enrollment, _ = ann
    platform_sql(
        "alter table therapist_profiles add constraint short_bios check (char_length(bio) < 20) not valid,"
        " add constraint never_rejected check (verification_status <> 'rejected') not valid"
    )
    update(enrollment, bio="A bio far too long for the constraint.", status="rejected")

    assert set(Intervention.objects.values_list("operation", flat=True)) == {"profile-sync", "verification-sync"}
    assert fresh(enrollment).status == "rejected"


# Install, roll back ------------------------------------------------------------------------


def test_rollback_leaves_the_catalog_exactly_as_before_install():
    before = catalog_snapshot()
    safety_net.install()
    assert catalog_snapshot() != before
    safety_net.rollback()

    assert catalog_snapshot() == before


def test_install_twice_and_rollback_twice_are_harmless():
    before = catalog_snapshot()
    safety_net.install()
    once = catalog_snapshot()
    assert safety_net.install().installed
    assert catalog_snapshot() == once
    safety_net.rollback()
    safety_net.rollback()

    assert catalog_snapshot() == before


def test_rolled_back_triggers_propagate_nothing(installed):
    user, enrollment, _ = make_therapist()
    safety_net.rollback()
    update(user, avatar_url="https://cdn.example.com/late.png")

    assert fresh(enrollment).profile_image_url == PLACEHOLDER


def test_install_creates_the_missing_intervention_log_and_rollback_keeps_it():
    platform_sql("drop table manual_intervention_log")
    safety_net.install()
    safety_net.rollback()

    assert platform_sql("select to_regclass('manual_intervention_log') is not null") == [(True,)]


def test_failed_install_leaves_nothing_behind():
    # A platform function of the same name and another return type makes install fail halfway.
    platform_sql("create function opsdash_sync_verification() returns integer language sql as 'select 1'")
    before = catalog_snapshot()
    with pytest.raises(DatabaseError):
        safety_net.install()

    assert catalog_snapshot() == before


def test_rollback_drops_nothing_that_others_depend_on(installed):
    platform_sql(
        "create trigger platform_own_trigger after update on users for each row execute function opsdash_sync_avatar()"
    )
    with pytest.raises(DatabaseError):
        safety_net.rollback()

    assert safety_net.status().installed


def test_install_without_the_platform_tables_says_so():
    platform_sql("alter table therapist_profiles rename to therapist_profiles_elsewhere")
    with pytest.raises(safety_net.SafetyNetError, match="no users, therapist_enrollments and therapist_profiles"):
        safety_net.install()


# Status -------------------------------------------------------------------------------------


def replace_by_hand(function):
    """CREATE OR REPLACE a trigger function with a body that does nothing, as a hurried fix would."""
    platform_sql(
        f"create or replace function {function}() returns trigger language plpgsql as $$ begin return null; end $$"
    )


def _object(current, name):
    [found] = [o for o in current.objects if o.name == name]
    return found


def test_status_before_install_is_not_installed():
    current = safety_net.status()

    assert current.state == safety_net.State.NOT_INSTALLED
    assert not any(o.exists for o in current.objects)


def test_status_lists_every_expected_trigger_and_function(installed):
    current = safety_net.status()

    assert current.state == safety_net.State.INSTALLED
    assert {(o.kind, o.name, o.table) for o in current.objects} == {
        (e.kind, e.name, e.table) for e in safety_net.EXPECTED
    }
    assert all(o.exists and o.matches_shipped_definition for o in current.objects)
    assert all(o.enabled for o in current.objects if o.kind == safety_net.TRIGGER)


def test_function_replaced_by_hand_shows_as_drifted(installed):
    replace_by_hand("opsdash_sync_verification")
    current = safety_net.status()

    assert current.state == safety_net.State.DRIFTED
    assert not _object(current, "opsdash_sync_verification").matches_shipped_definition
    assert _object(current, "opsdash_sync_avatar").matches_shipped_definition


def test_trigger_replaced_by_hand_shows_as_drifted(installed):
    platform_sql(
        "create or replace trigger opsdash_sync_avatar_from_users after update of avatar_url on users"
        " for each row execute function opsdash_sync_avatar()"
    )
    current = safety_net.status()

    assert current.state == safety_net.State.DRIFTED
    assert not _object(current, "opsdash_sync_avatar_from_users").matches_shipped_definition


def test_dropped_and_recreated_trigger_shows_as_drifted(installed):
    # Same definition, but not installed by opsdash: it carries no stamp.
    [(definition,)] = platform_sql(
        "select pg_get_triggerdef(oid) from pg_trigger where tgname = 'opsdash_sync_avatar_from_profiles'"
    )
    platform_sql("drop trigger opsdash_sync_avatar_from_profiles on therapist_profiles")
    platform_sql(definition)

    assert safety_net.status().state == safety_net.State.DRIFTED


def test_disabled_trigger_shows_as_disabled(installed):
    platform_sql("alter table users disable trigger opsdash_sync_avatar_from_users")
    current = safety_net.status()

    assert current.state == safety_net.State.DISABLED
    assert _object(current, "opsdash_sync_avatar_from_users").enabled is False
    assert _object(current, "opsdash_sync_avatar_from_users").matches_shipped_definition


def test_dropped_trigger_shows_as_partially_installed(installed):
    platform_sql("drop trigger opsdash_sync_verification_from_enrollments on therapist_enrollments")
    current = safety_net.status()

    assert current.state == safety_net.State.PARTIAL
    assert not _object(current, "opsdash_sync_verification_from_enrollments").exists


def test_index_rebuilt_by_hand_shows_as_drifted(installed):
    platform_sql("drop index opsdash_users_therapist_email_idx")
    platform_sql("create index opsdash_users_therapist_email_idx on users (email)")
    current = safety_net.status()

    assert current.state == safety_net.State.DRIFTED
    assert not _object(current, "opsdash_users_therapist_email_idx").matches_shipped_definition


def test_install_rebuilds_an_index_of_the_shipped_name_it_did_not_build():
    platform_sql("create index opsdash_enrollments_unlinked_email_idx on therapist_enrollments (email)")
    current = safety_net.install()

    assert current.installed
    [(definition,)] = platform_sql("select pg_get_indexdef('opsdash_enrollments_unlinked_email_idx'::regclass)")
    assert "lower(btrim" in definition and "user_id IS NULL" in definition


def test_install_again_repairs_drift_and_reenables(installed):
    platform_sql("alter table users disable trigger opsdash_sync_avatar_from_users")
    replace_by_hand("opsdash_sync_avatar")

    assert safety_net.install().state == safety_net.State.INSTALLED
