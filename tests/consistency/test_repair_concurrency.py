"""
No lost update: a repair never writes a value computed from a row that changed after
it was read. Another connection commits its edit between the repair's plan and its
writes (consistency.engine.repair.after_plan, the point the tests control), and the edit
survives; a deadlock with another transaction is retried, not logged as a failure.
"""

import io
import random
import threading
import time

import psycopg
import pytest
from django.core.management import call_command
from django.db import connections

from consistency.engine import repair
from consistency.engine.checks import states_for_ids
from consistency.models import JobRun, JobState
from tests.factories import make_enrollment, make_profile, make_therapist, make_user
from tests.helpers import open_interventions, repair_everyone
from tests.worker import database_url

pytestmark = pytest.mark.django_db(databases=["default", "platform"], transaction=True)


def platform_connection():
    """A connection of its own to the platform database, as the marketplace's app would have."""
    return psycopg.connect(database_url("platform").replace("postgres://", "postgresql://"), autocommit=True)


def read(table, column, row_id):
    """Read one stored value back through a connection of its own."""
    with platform_connection() as connection:
        return connection.execute(f"select {column} from {table} where id = %s", [row_id]).fetchone()[0]


def edit_after_plan(monkeypatch, sql, params):
    """Commit ``sql`` from another connection once, between the repair's plan and its writes."""
    edits = []

    def commit_the_edit():
        if not edits:
            with platform_connection() as connection:
                connection.execute(sql, params)
            edits.append(sql)

    monkeypatch.setattr(repair, "after_plan", commit_the_edit)
    return edits


# Each column a repair writes (repair.COLUMNS), with a therapist whose repair writes it
# and a therapist's edit, committed after the plan read the rows, that changes what must
# be written there. Each case: (rows of make_therapist, table edited, SQL set clause,
# params, [(table, column, value expected after the repair)]).
def _cases():
    image, other, edited = "https://cdn/e.jpg", "https://cdn/u.jpg", "https://cdn/edited.jpg"
    return {
        # The enrollment's new image reaches the user and the profile, and stays.
        "users.avatar_url": (
            {"user": {"avatar_url": other}, "enrollment": {"profile_image_url": image}},
            "therapist_enrollments", "profile_image_url = %s", [edited],
            [("users", "avatar_url", edited), ("therapist_enrollments", "profile_image_url", edited)],
        ),
        "users.full_name": (
            {"user": {"full_name": "Nick"}, "enrollment": {"full_name": "Legal Name"}},
            "therapist_enrollments", "full_name = %s", ["Renamed"],
            [("users", "full_name", "Renamed"), ("therapist_enrollments", "full_name", "Renamed")],
        ),
        "users.is_active": (
            {"user": {"is_active": False}, "enrollment": {"is_active": True}},
            "therapist_enrollments", "is_active = %s", [False],
            [("users", "is_active", False), ("therapist_enrollments", "is_active", False)],
        ),
        "users.is_verified": (
            {"user": {"is_verified": False}, "enrollment": {"status": "approved"}},
            "therapist_enrollments", "status = %s", ["rejected"],
            [("users", "is_verified", False), ("therapist_profiles", "verification_status", "rejected")],
        ),
        # The enrollment moved to another email (no longer this therapist's): not linked.
        "therapist_enrollments.user_id": (
            {"enrollment": {"linked": False}},
            "therapist_enrollments", "email = %s", ["someone.else@example.com"],
            [("therapist_enrollments", "user_id", None)],
        ),
        # The therapist uploads an image to the enrollment, which had none.
        "therapist_enrollments.profile_image_url": (
            {"user": {"avatar_url": other}, "enrollment": {"profile_image_url": "/placeholder.svg"}},
            "therapist_enrollments", "profile_image_url = %s", [edited],
            [("therapist_enrollments", "profile_image_url", edited), ("therapist_profiles", "profile_image_url", edited)],
        ),
        # The therapist writes a bio in the enrollment, which had none.
        "therapist_enrollments.bio": (
            {"enrollment": {"bio": ""}, "profile": {"bio": "Old profile bio."}},
            "therapist_enrollments", "bio = %s", ["My new bio."],
            [("therapist_enrollments", "bio", "My new bio."), ("therapist_profiles", "bio", "My new bio.")],
        ),
        "therapist_enrollments.experience_years": (
            {"enrollment": {"experience_years": -1}, "profile": {"experience_years": 3}},
            "therapist_enrollments", "experience_years = %s", [12],
            [("therapist_enrollments", "experience_years", 12), ("therapist_profiles", "experience_years", 12)],
        ),
        "therapist_enrollments.specializations": (
            {"enrollment": {"specializations": []}, "profile": {"specializations": ["Grief"]}},
            "therapist_enrollments", "specializations = %s", [["Trauma"]],
            [("therapist_enrollments", "specializations", ["Trauma"]), ("therapist_profiles", "specializations", ["Trauma"])],
        ),
        "therapist_profiles.profile_image_url": (
            {"enrollment": {"profile_image_url": image}, "profile": {"profile_image_url": other}},
            "therapist_enrollments", "profile_image_url = %s", [edited],
            [("therapist_profiles", "profile_image_url", edited), ("therapist_enrollments", "profile_image_url", edited)],
        ),
        "therapist_profiles.bio": (
            {"enrollment": {"bio": "Enrollment bio."}, "profile": {"bio": "Profile bio."}},
            "therapist_enrollments", "bio = %s", ["Saved a minute ago."],
            [("therapist_profiles", "bio", "Saved a minute ago."), ("therapist_enrollments", "bio", "Saved a minute ago.")],
        ),
        "therapist_profiles.experience_years": (
            {"enrollment": {"experience_years": 8}, "profile": {"experience_years": 2}},
            "therapist_enrollments", "experience_years = %s", [9],
            [("therapist_profiles", "experience_years", 9), ("therapist_enrollments", "experience_years", 9)],
        ),
        "therapist_profiles.specializations": (
            {"enrollment": {"specializations": ["Anxiety"]}, "profile": {"specializations": ["Grief"]}},
            "therapist_enrollments", "specializations = %s", [["Couples"]],
            [("therapist_profiles", "specializations", ["Couples"]), ("therapist_enrollments", "specializations", ["Couples"])],
        ),
        "therapist_profiles.verification_status": (
            {"enrollment": {"status": "approved"}, "profile": {"verification_status": "pending", "is_verified": False}},
            "therapist_enrollments", "status = %s", ["rejected"],
            [("therapist_profiles", "verification_status", "rejected"), ("therapist_enrollments", "status", "rejected")],
        ),
        "therapist_profiles.is_verified": (
            {"enrollment": {"status": "approved"}, "profile": {"is_verified": False}},
            "therapist_enrollments", "status = %s", ["pending"],
            [("therapist_profiles", "is_verified", False), ("therapist_profiles", "verification_status", "pending")],
        ),
    }  # fmt: skip


CASES = _cases()


def test_every_column_a_repair_writes_has_a_case():
    assert sorted(CASES) == sorted(f"{table}.{column}" for table, column, _, _ in repair.COLUMNS)


def _make_case_therapist(rows):
    rows = dict(rows)
    enrollment = dict(rows.pop("enrollment", {}))
    if enrollment.pop("linked", True) is False:
        user = make_user(**rows.get("user", {}))
        make_enrollment(user, linked=False, **enrollment)
        make_profile(user, **rows.get("profile", {}))
        return user
    return make_therapist(user=rows.get("user"), enrollment=enrollment, profile=rows.get("profile"))[0]


def _row_ids(user_id):
    with platform_connection() as connection:
        enrollment = connection.execute(
            "select id from therapist_enrollments where user_id = %(id)s or (user_id is null and"
            " lower(btrim(email)) = (select lower(btrim(email)) from users where id = %(id)s))",
            {"id": user_id},
        ).fetchone()[0]
        profile = connection.execute("select id from therapist_profiles where user_id = %s", [user_id]).fetchone()[0]
    return {"users": user_id, "therapist_enrollments": enrollment, "therapist_profiles": profile}


@pytest.mark.parametrize("written", sorted(CASES))
@pytest.mark.parametrize("how", ["repair-all chunk", "resync"])
def test_an_edit_committed_between_the_plan_and_the_write_survives(monkeypatch, committed_platform, written, how):
    table, column = written.split(".")
    _repair_with_an_edit_after_the_plan(monkeypatch, CASES[written], how, written_column=(table, column))


def _repair_with_an_edit_after_the_plan(monkeypatch, case, how, written_column=None):
    """Repair a case's therapist while another connection commits the case's edit after the plan; check the values."""
    rows, edited_table, assignment, params, expected = case
    user = _make_case_therapist(rows)
    ids = _row_ids(user.id)
    if written_column:
        # Without the edit the repair would write this column.
        assert any((change["table"], change["column"]) == written_column for change in repair.preview_email(user.email))
    edits = edit_after_plan(
        monkeypatch, f"update {edited_table} set {assignment} where id = %s", [*params, ids[edited_table]]
    )
    result = repair_everyone() if how == "repair-all chunk" else repair.repair_email(user.email)
    assert edits, "the edit was committed"
    assert result.failures == []
    for expected_table, expected_column, value in expected:
        assert read(expected_table, expected_column, ids[expected_table]) == value, (expected_table, expected_column)


# Values written from the user's or the profile's row rather than the enrollment's:
# (rows of make_therapist, table edited, SQL set clause, params, [(table, column, value
# expected after the repair)]).
SOURCE_CASES = {
    # The enrollment has no bio: it gets the profile's, which the therapist just edited.
    "profile bio into the enrollment": (
        {"enrollment": {"bio": ""}, "profile": {"bio": "Old profile bio."}},
        "therapist_profiles", "bio = %s", ["Edited in the profile."],
        [("therapist_enrollments", "bio", "Edited in the profile."), ("therapist_profiles", "bio", "Edited in the profile.")],
    ),
    "profile experience into the enrollment": (
        {"enrollment": {"experience_years": -1}, "profile": {"experience_years": 3}},
        "therapist_profiles", "experience_years = %s", [7],
        [("therapist_enrollments", "experience_years", 7), ("therapist_profiles", "experience_years", 7)],
    ),
    # The enrollment and the profile have no image: they get the user's, just replaced.
    "user avatar into the enrollment and the profile": (
        {"user": {"avatar_url": "https://cdn/u.jpg"}, "enrollment": {"profile_image_url": "/placeholder.svg"},
         "profile": {"profile_image_url": None}},
        "users", "avatar_url = %s", ["https://cdn/edited.jpg"],
        [("therapist_enrollments", "profile_image_url", "https://cdn/edited.jpg"),
         ("therapist_profiles", "profile_image_url", "https://cdn/edited.jpg"),
         ("users", "avatar_url", "https://cdn/edited.jpg")],
    ),
}  # fmt: skip


@pytest.mark.parametrize("source", sorted(SOURCE_CASES))
@pytest.mark.parametrize("how", ["repair-all chunk", "resync"])
def test_an_edit_to_the_user_or_profile_a_written_value_comes_from_survives(
    monkeypatch, committed_platform, source, how
):
    _repair_with_an_edit_after_the_plan(monkeypatch, SOURCE_CASES[source], how)


def test_a_therapist_left_alone_by_the_plan_is_not_locked_nor_written(monkeypatch, committed_platform):
    consistent, _, _ = make_therapist()
    drifting, _, _ = make_therapist(user={"full_name": "Nick"}, enrollment={"full_name": "Legal"})
    edit_after_plan(monkeypatch, "update users set full_name = 'Edited meanwhile' where id = %s", [consistent.id])
    result = repair_everyone()
    assert result.therapists_changed == 1
    assert read("users", "full_name", consistent.id) == "Edited meanwhile"
    assert read("users", "full_name", drifting.id) == "Legal"


def test_a_deadlock_with_another_transaction_is_retried_not_logged(monkeypatch, committed_platform):
    """
    Another transaction edits the enrollment and then the user, while the repair holds
    the user and waits for the enrollment. PostgreSQL fails the repair (it detects the
    deadlock first: the other waits 10 s before looking); the repair runs again once
    the other has committed, and writes from what it committed.
    """
    user, enrollment, profile = make_therapist(user={"full_name": "Nick"}, enrollment={"full_name": "Legal"})
    other = psycopg.connect(database_url("platform").replace("postgres://", "postgresql://"))
    started, outcome, attempts = threading.Event(), {}, []

    def other_transaction():
        other.execute("set local deadlock_timeout = '10s'")
        other.execute("update therapist_enrollments set bio = 'Edited' where id = %s", [enrollment.id])
        started.set()
        other.execute("update users set avatar_url = 'https://cdn/x.jpg' where id = %s", [user.id])
        other.commit()
        outcome["other"] = "committed"

    thread = threading.Thread(target=other_transaction)

    def start_the_other_transaction():
        attempts.append(1)
        if len(attempts) == 1:
            # Hold the user, as the repair's locks will, then let the other transaction in.
            with connections["platform"].cursor() as cursor:
                cursor.execute("select 1 from users where id = %s for update", [user.id])
            thread.start()
            assert started.wait(5)

    monkeypatch.setattr(repair, "after_plan", start_the_other_transaction)
    monkeypatch.setattr(repair, "CONFLICT_PAUSE", 0.01)
    result = repair_everyone()
    thread.join(10)
    other.close()
    assert outcome == {"other": "committed"}
    assert len(attempts) == 2, "the repair failed on the deadlock and ran again"
    assert result.failures == []
    assert open_interventions() == []
    assert read("users", "full_name", user.id) == "Legal"
    assert read("therapist_profiles", "bio", profile.id) == "Edited"
    assert read("therapist_profiles", "profile_image_url", profile.id) == "https://cdn/x.jpg"


# ------------------------------------------------------------------------------
# A repair-all of thousands of therapists under a concurrent writer
# ------------------------------------------------------------------------------
THERAPISTS = 3000


def _seed_drifting_therapists(count):
    """
    Insert ``count`` therapists, set-based; return their enrollment ids.

    Each enrollment has no bio and a negative experience, so the repair writes the profile's
    into it, and the user's name differs from the enrollment's.
    """
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            """
            with u as (
                insert into users (email, full_name, user_type, is_verified, is_active)
                select 'writer' || n || '@example.com', 'Nick ' || n, 'therapist', true, true
                from generate_series(1, %(count)s) n
                returning id, email
            ), e as (
                insert into therapist_enrollments (user_id, email, full_name, bio, experience_years, status, is_active)
                select id, email, 'Legal ' || email, '', -1, 'approved', true from u
                returning id, user_id
            ), p as (
                insert into therapist_profiles (user_id, licensed_qualification, bio, experience_years,
                                                verification_status, is_verified)
                select id, 'MSc', 'Profile bio', 3, 'approved', true from u
            )
            select id from e
            """,
            {"count": count},
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_repair_all_under_a_concurrent_writer_loses_no_committed_edit(monkeypatch, committed_platform, settings):
    settings.OPSDASH_REPAIR_CHUNK_SIZE = 250
    enrollment_ids = _seed_drifting_therapists(THERAPISTS)
    committed = {}  # enrollment id -> the last bio and experience committed
    stop = threading.Event()

    def writer():
        chooser = random.Random(7)
        with platform_connection() as connection:
            n = 0
            while not stop.is_set():
                n += 1
                enrollment_id = chooser.choice(enrollment_ids)
                values = (f"Edited {n}", n % 40 + 1)
                connection.execute(
                    "update therapist_enrollments set bio = %s, experience_years = %s where id = %s",
                    [*values, enrollment_id],
                )
                committed[enrollment_id] = values

    # Each chunk waits a moment between its plan and its writes, so that many edits
    # land there, where a repair without locks would overwrite them.
    monkeypatch.setattr(repair, "after_plan", lambda: time.sleep(0.05))
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        call_command("repair_consistency", "--sync", stdout=io.StringIO())
    finally:
        stop.set()
        thread.join(10)
    job = JobRun.objects.get()
    assert job.state == JobState.SUCCEEDED, job.error
    assert (job.therapists_total, job.therapists_failed) == (THERAPISTS, 0)
    assert job.progress_total > 10
    assert len(committed) > 100, "the writer edited enrollments while the repair ran"
    with platform_connection() as connection:
        rows = connection.execute(
            "select id, bio, experience_years from therapist_enrollments where id = any(%s)", [list(committed)]
        )
        stored = {row[0]: (row[1], row[2]) for row in rows}
    lost = {eid: (values, stored[eid]) for eid, values in committed.items() if stored[eid] != values}
    assert lost == {}
    # A second run, with no writer, brings everyone into agreement; a third changes nothing.
    monkeypatch.setattr(repair, "after_plan", lambda: None)
    repair_everyone()
    assert repair_everyone().therapists_changed == 0
    with connections["platform"].cursor() as cursor:
        cursor.execute("select id from users")
        users = [row[0] for row in cursor.fetchall()]
    assert len(users) == THERAPISTS
    assert all(state.consistent for state in states_for_ids(users))
