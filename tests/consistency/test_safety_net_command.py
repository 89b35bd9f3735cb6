from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def run(*args):
    out = StringIO()
    call_command("safety_net", *args, stdout=out)
    return out.getvalue()


def test_status_prints_one_line_per_object_and_the_state():
    output = run("status")

    assert "opsdash_sync_avatar_from_users" in output
    assert "opsdash_users_therapist_email_idx" in output
    assert output.rstrip().endswith("Safety net: not installed")


def test_install_prints_the_installed_status():
    output = run("install")

    lines = output.splitlines()
    assert lines[0].split() == ["kind", "name", "table", "exists", "enabled", "definition"]
    assert "trigger   opsdash_sync_avatar_from_users" in output
    assert output.rstrip().endswith("Safety net: installed")


def test_rollback_twice_prints_not_installed():
    run("install")
    run("rollback")

    assert run("rollback").rstrip().endswith("Safety net: not installed")


def test_status_marks_a_hand_edited_function():
    run("install")
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "create or replace function opsdash_sync_profile_data() returns trigger language plpgsql"
            " as $$ begin return null; end $$"
        )
    output = run("status")

    [line] = [line for line in output.splitlines() if "opsdash_sync_profile_data " in line]
    assert line.split()[-1] == "DIFFERS"
    assert output.rstrip().endswith("Safety net: drifted")


def test_install_without_the_platform_tables_is_a_clear_error():
    with connections["platform"].cursor() as cursor:
        cursor.execute("alter table users rename to users_elsewhere")
    with pytest.raises(CommandError, match="cannot install the safety net: the platform database has no users"):
        run("install")


def test_unknown_action_is_refused():
    with pytest.raises(CommandError, match="invalid choice"):
        run("reinstall")
