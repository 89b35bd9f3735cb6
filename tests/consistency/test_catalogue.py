"""The catalogue of checks agrees with the SQL that decides them and the table that keeps them."""

import pytest
from django.db import connections

from consistency import catalogue
from consistency.engine.checks import BY_IDS, state_sql
from consistency.models import TherapistResult
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def state_columns():
    with connections["platform"].cursor() as cursor:
        cursor.execute(f"select * from ({state_sql(BY_IDS)}) s limit 0", {"ids": []})
        return [column.name for column in cursor.description]


def test_every_check_the_sql_decides_is_in_the_catalogue_and_no_other():
    decided = [c.removesuffix("_ok") for c in state_columns() if c.endswith("_ok")]
    assert decided == list(catalogue.CHECK_NAMES)


def test_every_problem_of_a_therapist_has_its_flag_and_compared_values_in_the_sql():
    columns = set(state_columns())
    for problem in catalogue.THERAPIST_PROBLEMS.values():
        assert problem.flag in columns
        assert set(problem.columns) <= columns, problem.name


def test_the_drilldown_table_keeps_a_flag_per_problem_as_the_sql_returns_it():
    fields = {f.name: f for f in TherapistResult._meta.concrete_fields}
    for problem in catalogue.THERAPIST_PROBLEMS.values():
        assert problem.flag in fields
        # A check does not apply without an enrollment or a profile: NULL, as in the SQL.
        assert fields[problem.flag].null is isinstance(problem, catalogue.Check)


def test_a_therapist_fails_exactly_what_the_catalogue_reads_from_its_state():
    user, _, _ = make_therapist(enrollment={"full_name": "Another Name"}, profile={"bio": "Another bio."})
    with connections["platform"].cursor() as cursor:
        cursor.execute(f"select * from ({state_sql(BY_IDS)}) s", {"ids": [str(user.id)]})
        row = dict(zip([c.name for c in cursor.description], cursor.fetchone(), strict=True))
    assert catalogue.failing(row) == ["bio", "name"]
    assert catalogue.failing(row, but="bio") == ["name"]


def test_units_and_operations_are_those_the_report_and_the_log_use():
    assert {p.name: p.unit for p in catalogue.LINK_PROBLEMS if p.unit != catalogue.THERAPISTS} == {
        "duplicate_user": "users",
        "orphan_enrollment": "enrollments",
    }
    assert [p.operation for p in catalogue.LINK_PROBLEMS if not p.repaired] == [
        "missing-enrollment",
        "missing-profile",
        "duplicate-enrollment",
        "duplicate-user",
        "orphan-enrollment",
    ]
