"""
Work per job, not per chunk: a repair-all looks up the unlinked enrollments and the
duplicate users once (consistency.engine.chunk_keys) and each chunk reads its share by key.
A chunk planned from the job's keys plans exactly what it would plan looking them up
over the whole tables.
"""

import pytest
from django.db import connections

from consistency.engine import repair
from consistency.engine.checks import BY_IDS, therapist_states
from consistency.engine.chunk_keys import chunk_keys
from consistency.platform.seed import seed_platform
from interventions.log import log_interventions
from tests.factories import make_enrollment, make_profile, make_therapist, make_user
from tests.helpers import open_interventions, platform_contents

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def plans(bounds, keys=None):
    """Return every therapist's repair plan, chunk by chunk, by id."""
    planned = {}
    with connections["platform"].cursor() as cursor:
        for index, (after, upto) in enumerate(bounds):
            cursor.execute(
                "select id from users where user_type = 'therapist' and id > %s::uuid and id <= %s::uuid",
                [after, upto],
            )
            ids = [str(row[0]) for row in cursor.fetchall()]
            params = {"ids": ids, **(keys[index] if keys else {})}
            cursor.execute(repair.plan_sql(BY_IDS, keyed=keys is not None), params)
            columns = [col.name for col in cursor.description]
            for row in cursor.fetchall():
                plan = dict(zip(columns, row, strict=False))
                planned[plan["therapist_id"]] = plan
    return planned


@pytest.fixture
def platform_with_every_link_problem():
    seed_platform(300, 0.3, seed=5, replace=True)
    # Twins in different chunks, one of them a client; an unlinked enrollment shared by two.
    for n in range(6):
        make_therapist(f"Twin{n}@Example.com")
        make_user(f" twin{n}@example.com", user_type="therapist" if n % 2 else "individual")
        shared = make_user(f"Shared{n}@example.com ")
        make_user(f"shared{n}@EXAMPLE.com")
        make_enrollment(shared, linked=False, full_name="Shared")
        make_profile(shared)
    # Open interventions a repair resolves, logged by normalised email and by user id,
    # and one whose problem stays.
    states = therapist_states()
    bio = [s for s in states if s.bio_ok is False and not s.duplicate_user][:4]
    avatar = [s for s in states if s.avatar_ok is False and not s.duplicate_user][:4]
    missing = [s for s in states if s.missing_profile][:1]
    assert len(bio) == len(avatar) == 4 and missing
    log_interventions(
        [{"operation": "profile-sync", "entity_id": s.norm_email, "error": "bio", "payload": {}} for s in bio]
        + [{"operation": "avatar-sync", "entity_id": str(s.therapist_id), "error": "x", "payload": {}} for s in avatar]
        + [{"operation": "missing-profile", "entity_id": s.norm_email, "error": "x", "payload": {}} for s in missing]
    )
    return missing[0].norm_email


def test_a_chunk_planned_from_the_jobs_keys_plans_what_the_whole_tables_give(platform_with_every_link_problem):
    bounds = repair.chunk_bounds(7)
    keyed = plans(bounds, chunk_keys(bounds))
    looked_up = plans(bounds)
    assert len(keyed) == len(looked_up) > 300
    # Every link problem occurs, so the keys are put to use.
    for problem in ("duplicate_user", "unlinked_enrollment", "duplicate_enrollment"):
        assert any(plan[problem] for plan in keyed.values()), problem
    assert keyed == looked_up


def resolved_interventions():
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "select operation, entity_id, resolved_by from manual_intervention_log where resolved order by 1, 2"
        )
        return cursor.fetchall()


def test_a_keyed_repair_all_writes_what_one_chunk_of_everyone_writes(platform_with_every_link_problem):
    with connections["platform"].cursor() as cursor:
        cursor.execute("savepoint before_repair")
        repair.repair_range(repair.FIRST_ID, repair.LAST_ID)
        everyone, logged, resolved = platform_contents(), open_interventions(), resolved_interventions()
        cursor.execute("rollback to savepoint before_repair")
    bounds = repair.chunk_bounds(7)
    keys = chunk_keys(bounds)
    # The open interventions are read by key, and only some chunks have any.
    assert 0 < sum(bool(chunk["intervention_ids"]) for chunk in keys) < len(keys)
    results = [repair.repair_range(after, upto, keys=k) for (after, upto), k in zip(bounds, keys, strict=False)]
    # updated_at is now() of the one test transaction either way.
    contents = platform_contents()
    for table in repair.TABLES:
        assert contents[table] == everyone[table], table
    assert open_interventions() == logged
    # The eight whose problem the repair fixed are resolved; the missing profile stays open.
    assert resolved_interventions() == resolved and len(resolved) == 8
    assert {r[2] for r in resolved} == {"opsdash"}
    assert sum(result.interventions_resolved for result in results) == 8
    assert ("missing-profile", platform_with_every_link_problem) in open_interventions()


def test_a_chunk_reads_its_keyed_rows_as_they_are_now():
    user, _, _ = make_therapist("late.link@example.com", enrollment=False)
    unlinked = make_enrollment(user, linked=False)
    bounds = repair.chunk_bounds(100)
    keys = chunk_keys(bounds)
    assert keys[0]["unlinked_ids"] == [str(unlinked.id)]
    # Linked by the platform after the job found it: no longer an unlinked enrollment.
    with connections["platform"].cursor() as cursor:
        cursor.execute("update therapist_enrollments set user_id = %s where id = %s", [user.id, unlinked.id])
    [plan] = plans(bounds, keys).values()
    assert (plan["e_id"], plan["unlinked_enrollment"], plan["enrollment_count"]) == (unlinked.id, False, 1)
