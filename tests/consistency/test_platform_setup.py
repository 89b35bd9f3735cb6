"""manage.py platform_setup: the one command that changes the platform's schema, and its printable SQL."""

import subprocess
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import connections

from consistency import tasks
from consistency.engine.checks import load_sql
from consistency.jobs import runner
from consistency.jobs.service import start_repair_all
from consistency.models import JobState
from consistency.platform import setup as platform_setup
from consistency.safety_net import service as safety_net
from interventions.schema import MissingInterventionLog
from tests.worker import database_url

RECOMMENDED = {"opsdash_users_email_norm_idx": "users", "opsdash_enrollments_email_norm_idx": "therapist_enrollments"}


def raw(sql, params=None, url=None):
    """Run one statement on its own connection (autocommit) and return its rows."""
    with psycopg.connect(
        (url or database_url("platform")).replace("postgres://", "postgresql://"), autocommit=True
    ) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def drop_log():
    with connections["platform"].cursor() as cursor:
        cursor.execute("drop table manual_intervention_log")


@pytest.fixture
def set_up_platform(committed_platform):
    """Leave the test platform database as it was: no safety net, no recommended index, the log there."""
    yield
    connections["platform"].close()
    safety_net.rollback()
    for name in RECOMMENDED:
        raw(f"drop index concurrently if exists {name}")
    platform_setup.create_intervention_log()


@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_platform_setup_creates_the_log_the_safety_net_and_the_recommended_indexes(set_up_platform):
    drop_log()
    out = StringIO()
    call_command("platform_setup", stdout=out)
    assert raw(
        "select to_regclass('manual_intervention_log') is not null, to_regclass('manual_intervention_log_unresolved_idx') is not null"
    ) == [(True, True)]
    assert safety_net.status().state == safety_net.State.INSTALLED
    indexes = raw(
        "select c.relname, t.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) from pg_index i"
        " join pg_class c on c.oid = i.indexrelid join pg_class t on t.oid = i.indrelid where c.relname = any(%s)",
        [list(RECOMMENDED)],
    )
    assert {(name, table) for name, table, _, _ in indexes} == set(RECOMMENDED.items())
    assert all(valid and "lower(btrim((email)::text))" in definition for _, _, valid, definition in indexes)
    assert "Safety net: installed" in out.getvalue()
    assert "Recommended index opsdash_users_email_norm_idx on users: valid" in out.getvalue()
    # A second run changes nothing and succeeds.
    call_command("platform_setup", stdout=StringIO())
    assert len(raw("select 1 from pg_class where relname = any(%s)", [list(RECOMMENDED)])) == 2


@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_platform_setup_rebuilds_a_recommended_index_left_invalid(set_up_platform, superuser_client):
    call_command("platform_setup", stdout=StringIO())
    # What an interrupted CREATE INDEX CONCURRENTLY leaves behind.
    raw("update pg_index set indisvalid = false where indexrelid = 'opsdash_users_email_norm_idx'::regclass")
    assert "invalid: run platform_setup again" in superuser_client.get("/safety-net/").content.decode()
    out = StringIO()
    call_command("platform_setup", stdout=out)
    assert "dropping the invalid index opsdash_users_email_norm_idx" in out.getvalue()
    assert raw("select indisvalid from pg_index where indexrelid = 'opsdash_users_email_norm_idx'::regclass") == [
        (True,)
    ]


@pytest.mark.django_db(databases=["default", "platform"])
def test_the_safety_net_page_shows_the_recommended_indexes_missing(superuser_client):
    page = superuser_client.get("/safety-net/").content.decode()
    assert "Recommended indexes" in page
    assert "opsdash_users_email_norm_idx" in page and "opsdash_enrollments_email_norm_idx" in page
    assert page.count("not built") == 2


@pytest.fixture
def scratch_platform(django_db_blocker):
    """An empty database with only the platform's three tables, as a DBA would find production."""
    name = connections["platform"].settings_dict["NAME"] + "_dba"
    url = database_url("platform")
    raw(f'drop database if exists "{name}"', url=url)
    raw(f'create database "{name}"', url=url)
    scratch = url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(scratch.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(load_sql("platform_schema.sql"))
    yield scratch, name
    raw(f'drop database if exists "{name}" with (force)', url=url)


@pytest.mark.django_db(databases=["default", "platform"])
def test_the_printed_sql_sets_the_platform_up_when_a_dba_runs_it_with_psql(scratch_platform, app_role):
    url, name = scratch_platform
    out = StringIO()
    call_command("platform_setup", "--sql", stdout=out)
    run = subprocess.run(
        ["psql", url, "-q", "-v", "ON_ERROR_STOP=1"], input=out.getvalue(), text=True, capture_output=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    found = raw(
        "select to_regclass('manual_intervention_log') is not null, to_regclass('opsdash_users_email_norm_idx') is not null,"
        " to_regclass('opsdash_enrollments_email_norm_idx') is not null, to_regprocedure('opsdash_sync_avatar()') is not null,"
        " has_column_privilege('opsdash_app', 'therapist_profiles', 'bio', 'UPDATE'),"
        " has_database_privilege('opsdash_app', current_database(), 'TEMP')",
        url=url,
    )
    assert found == [(True, True, True, True, True, True)]


def _privileges(role):
    """Return what ``role`` may do on the platform tables: (table, privilege) and (table, column, privilege)."""
    tables = raw(
        "select table_name, privilege_type from information_schema.role_table_grants where grantee = %s", [role]
    )
    columns = raw(
        "select table_name, column_name, privilege_type from information_schema.column_privileges"
        " where grantee = %s and privilege_type = 'UPDATE'"
        " and table_name not in (select table_name from information_schema.role_table_grants"
        "                        where grantee = %s and privilege_type = 'UPDATE')",
        [role, role],
    )
    return set(tables), set(columns)


@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_the_everyday_role_has_exactly_the_documented_grants(committed_platform, app_role):
    tables, columns = _privileges(app_role)
    assert tables == {
        ("users", "SELECT"),
        ("therapist_enrollments", "SELECT"),
        ("therapist_profiles", "SELECT"),
        ("manual_intervention_log", "SELECT"),
        ("therapist_profiles", "INSERT"),
        ("manual_intervention_log", "INSERT"),
        ("manual_intervention_log", "UPDATE"),
    }
    assert {(table, column) for table, column, _ in columns} == {
        ("users", c) for c in ("avatar_url", "is_verified", "is_active", "full_name", "updated_at")
    } | {
        ("therapist_enrollments", c)
        for c in ("user_id", "profile_image_url", "bio", "experience_years", "specializations", "updated_at")
    } | {
        ("therapist_profiles", c)
        for c in ("profile_image_url", "bio", "experience_years", "specializations", "verification_status", "is_verified", "updated_at")
    }  # fmt: skip
    assert raw(
        "select has_database_privilege(%s, current_database(), 'TEMP'), has_database_privilege(%s, current_database(), 'CREATE')",
        [app_role, app_role],
    ) == [(True, False)]


@pytest.mark.django_db(databases=["default", "platform"])
def test_a_repair_all_fails_with_the_command_to_run_where_the_log_is_missing(alice):
    drop_log()
    job = start_repair_all(alice, queue=False)
    with pytest.raises(MissingInterventionLog):
        tasks.repair_all(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "manage.py platform_setup" in job.error
    with connections["platform"].cursor() as cursor:
        cursor.execute("select to_regclass('manual_intervention_log')")
        assert cursor.fetchone()[0] is None, "a job created the log"


@pytest.mark.django_db(databases=["default", "platform"])
def test_a_dry_run_needs_no_log(alice):
    drop_log()
    job = runner.run_repair_all(start_repair_all(alice, dry_run=True, queue=False).pk)
    assert job.state == JobState.SUCCEEDED


@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_platform_setup_rewrites_the_payloads_opsdash_wrote_double_encoded(set_up_platform):
    written = '{"user_id": null, "email": "a@example.com", "enrollment_id": null, "profile_id": null, "enrollments": 0, "job": 5}'
    raw(
        "insert into manual_intervention_log (operation, entity_id, error, payload)"
        " values ('missing-enrollment', 'a@example.com', 'no enrollment', to_jsonb(%s::text))",
        [written],
    )
    out = StringIO()
    call_command("platform_setup", stdout=out)
    assert "1 double-encoded ones rewritten as objects" in out.getvalue()
    assert raw("select jsonb_typeof(payload), payload->>'job' from manual_intervention_log") == [("object", "5")]
