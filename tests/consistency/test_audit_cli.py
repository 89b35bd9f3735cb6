"""Every write leaves an audit entry, from the command line as from the pages (read from the audit table)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def audit_entries():
    """Return (actor_name, action, target, details) of every audit entry, oldest first, by SQL."""
    with connection.cursor() as cursor:
        cursor.execute("select actor_name, action, target, details::text from consistency_auditentry order by at, id")
        return [(actor, action, target, json.loads(details)) for actor, action, target, details in cursor.fetchall()]


def command(*args):
    call_command(*args, stdout=StringIO(), stderr=StringIO())


def test_safety_net_install_and_rollback_from_the_command_line_are_audited():
    command("safety_net", "install")
    command("safety_net", "rollback")

    entries = audit_entries()
    assert [(action, target) for _, action, target, _ in entries] == [
        ("safety_net_install", "safety net"),
        ("safety_net_rollback", "safety net"),
    ]
    assert all(actor.startswith("cli") for actor, _, _, _ in entries)
    assert [details["state"] for _, _, _, details in entries] == ["installed", "not installed"]


def test_safety_net_status_writes_nothing_and_leaves_no_entry():
    command("safety_net", "status")
    assert audit_entries() == []


def test_repair_all_from_the_command_line_is_audited():
    make_therapist("stale@example.com", profile={"bio": "Stale."})
    command("repair_consistency", "--sync")
    [(_, action, target, details)] = audit_entries()
    assert (action, target, details["dry_run"]) == ("repair_all", "all", False)


def test_resync_from_the_command_line_is_audited():
    make_therapist("stale@example.com", profile={"bio": "Stale."})
    command("repair_consistency", "--email", " Stale@Example.com", "--sync")
    [(_, action, target, _)] = audit_entries()
    assert (action, target) == ("resync", "stale@example.com")


def test_seeding_the_platform_is_audited():
    command("seed_platform", "--therapists", "20")
    [(actor, action, target, details)] = audit_entries()
    assert (action, target, details["therapists"]) == ("seed_platform", "all", 20)
    assert actor.startswith("cli")
