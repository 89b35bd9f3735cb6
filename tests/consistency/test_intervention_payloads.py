"""
Every intervention opsdash logs has a JSON object as its payload (docs/rules.md §1), read back with
raw SQL through psycopg's own jsonb loader; and the repair of the rows it once wrote as a
JSON string holding JSON changes those rows and no other.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from psycopg.types.json import JsonbLoader

from consistency.engine import repair
from consistency.jobs import runner
from consistency.jobs import service as jobs
from interventions.payloads import repair_payloads
from tests.factories import make_enrollment, make_therapist
from tests.helpers import repair_everyone

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def logged_payloads(operation):
    """Return (jsonb_typeof, payload) of each row of this operation, decoded by psycopg, not Django."""
    platform = connections["platform"]
    platform.ensure_connection()
    with platform.connection.cursor() as cursor:
        # Django hands jsonb over as undecoded text; this cursor decodes it as psycopg does.
        cursor.adapters.register_loader("jsonb", JsonbLoader)
        cursor.execute(
            "select jsonb_typeof(payload), payload from manual_intervention_log where operation = %s order by entity_id",
            [operation],
        )
        return cursor.fetchall()


def test_a_therapist_whose_repair_failed_alone_is_logged_with_an_object_payload():
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "alter table therapist_profiles add constraint no_forbidden_bio check (bio is distinct from 'Forbidden.')"
        )
    user, _, _ = make_therapist(email="Fails@Example.com", enrollment={"bio": "Forbidden."}, profile={"bio": "Old."})
    make_therapist(profile={"bio": "Stale."})
    result = repair_everyone(job_id=7)
    assert [f.email for f in result.failures] == ["Fails@Example.com"]
    [(kind, payload)] = logged_payloads("therapist-sync")
    assert kind == "object"
    assert payload == {"user_id": str(user.id), "email": "Fails@Example.com", "job": 7}


def test_link_problems_a_repair_logs_have_object_payloads():
    without_profile, enrollment, _ = make_therapist(email="noprofile@example.com", profile=False)
    repair_everyone(job_id=12)
    [(kind, payload)] = logged_payloads("missing-profile")
    assert kind == "object"
    assert payload == {
        "user_id": str(without_profile.id),
        "email": "noprofile@example.com",
        "enrollment_id": str(enrollment.id),
        "profile_id": None,
        "enrollments": 1,
        "job": 12,
    }


def test_orphan_enrollments_are_logged_with_object_payloads():
    orphan = make_enrollment(email="Never.Signed.In@example.com", linked=False, status="approved")
    assert repair.log_orphan_enrollments(job_id=3) == (1, 0)
    [(kind, payload)] = logged_payloads("orphan-enrollment")
    assert kind == "object"
    assert payload == {"enrollment_id": str(orphan.id), "email": "Never.Signed.In@example.com", "job": 3}


def test_a_resync_logs_its_therapists_link_problems_with_object_payloads(alice, task_queue):
    user, _, _ = make_therapist(email="resync@example.com", enrollment=False)
    job = jobs.start_resync(alice, "Resync@Example.com")
    runner.run_resync(job.pk)
    [(kind, payload)] = logged_payloads("missing-enrollment")
    assert kind == "object"
    assert (payload["user_id"], payload["email"], payload["job"]) == (str(user.id), "resync@example.com", job.pk)


# ------------------------------------------------------------------------------
# The repair of the rows written double-encoded before the fix
# ------------------------------------------------------------------------------
LINK_PAYLOAD = {
    "job": 5,
    "email": "Ada@Example.com",
    "user_id": "6f1c0000-0000-0000-0000-000000000001",
    "profile_id": None,
    "enrollments": 1,
    "enrollment_id": "6f1c0000-0000-0000-0000-000000000002",
}
ORPHAN_PAYLOAD = {"job": None, "email": "orphan@example.com", "enrollment_id": "6f1c0000-0000-0000-0000-000000000003"}


def insert(operation, entity_id, payload_sql, *params):
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "insert into manual_intervention_log (operation, entity_id, error, payload)"
            f" values (%s, %s, 'logged', {payload_sql}) returning id",
            [operation, entity_id, *params],
        )
        return cursor.fetchone()[0]


def as_text(row_id):
    with connections["platform"].cursor() as cursor:
        cursor.execute("select l::text from manual_intervention_log l where id = %s", [row_id])
        return cursor.fetchone()[0]


@pytest.fixture
def old_rows():
    """Rows opsdash wrote double-encoded, and rows that look alike but are not opsdash's."""
    as_string = "to_jsonb(%s::text)"
    opsdash_rows = {
        insert("missing-profile", "ada@example.com", as_string, json.dumps(LINK_PAYLOAD)): LINK_PAYLOAD,
        insert("orphan-enrollment", "orphan@example.com", as_string, json.dumps(ORPHAN_PAYLOAD)): ORPHAN_PAYLOAD,
    }
    others = [
        # The platform's own operation, with a string holding the same object.
        insert("avatar-sync", "ada@example.com", as_string, json.dumps(LINK_PAYLOAD)),
        # opsdash's operation, but logged under a user id, as only the platform does.
        insert("duplicate-user", "6f1c", as_string, json.dumps(LINK_PAYLOAD)),
        # opsdash's operation, a string holding an object with other keys.
        insert("missing-profile", "bob@example.com", as_string, json.dumps({"email": "bob@example.com", "note": "x"})),
        # opsdash's keys, but an email that is not the entity's.
        insert("missing-profile", "carol@example.com", as_string, json.dumps(LINK_PAYLOAD)),
        # A string that holds no JSON, one that holds an array, an object, NULL.
        insert("missing-profile", "dan@example.com", as_string, "{not json"),
        insert("missing-enrollment", "eve@example.com", as_string, json.dumps([LINK_PAYLOAD])),
        insert("missing-enrollment", "ada@example.com", "%s::jsonb", json.dumps(LINK_PAYLOAD)),
        insert("unlinked-enrollment", "ada@example.com", "null"),
    ]
    return opsdash_rows, {row_id: as_text(row_id) for row_id in others}


def test_the_repair_turns_opsdashs_double_encoded_payloads_into_objects_and_leaves_the_rest(old_rows):
    opsdash_rows, others = old_rows
    result = repair_payloads()
    assert (result.candidates, result.repaired) == (7, 2)
    with connections["platform"].connection.cursor() as cursor:
        cursor.adapters.register_loader("jsonb", JsonbLoader)
        cursor.execute(
            "select id, jsonb_typeof(payload), payload from manual_intervention_log where id = any(%s)",
            [list(opsdash_rows)],
        )
        repaired = {row_id: (kind, payload) for row_id, kind, payload in cursor.fetchall()}
    assert repaired == {row_id: ("object", payload) for row_id, payload in opsdash_rows.items()}
    assert {row_id: as_text(row_id) for row_id in others} == others


def test_the_repair_can_run_again_and_then_changes_nothing(old_rows):
    assert repair_payloads().repaired == 2
    opsdash_rows, others = old_rows
    before = {row_id: as_text(row_id) for row_id in [*opsdash_rows, *others]}
    assert repair_payloads().repaired == 0
    assert {row_id: as_text(row_id) for row_id in before} == before


def test_the_command_reports_what_it_would_repair_and_then_repairs_it(old_rows):
    out = StringIO()
    call_command("repair_payloads", "--dry-run", stdout=out)
    assert "would repair 2 double-encoded payloads" in out.getvalue()
    assert [kind for kind, _ in logged_payloads("orphan-enrollment")] == ["string"]
    call_command("repair_payloads", stdout=out)
    assert "repaired 2 double-encoded payloads" in out.getvalue()
    assert [kind for kind, _ in logged_payloads("orphan-enrollment")] == ["object"]
