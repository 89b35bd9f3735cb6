"""ensure_operator: the first operator account, named by whoever runs it or given a random suffix."""

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from consistency.models import AuditEntry

pytestmark = pytest.mark.django_db


def ensure_operator(*args):
    out = StringIO()
    call_command("ensure_operator", *args, stdout=out)
    return out.getvalue()


def printed(field, output):
    match = re.search(rf"{field}: (\S+)", output)
    return match[1] if match else None


def signs_in(username, password):
    """Authenticate as the sign-in page does (django-axes needs the request)."""
    return authenticate(RequestFactory().post("/login/"), username=username, password=password)


def test_first_operator_gets_a_random_name_and_signs_in_with_the_printed_password():
    output = ensure_operator()

    username, password = printed("username", output), printed("password", output)
    assert re.fullmatch(r"operator-[0-9a-f]{6}", username)
    user = signs_in(username, password)
    assert user is not None
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["Operators"]
    assert "shown only this once" in output
    assert not get_user_model().objects.filter(username="operator").exists()


def test_account_is_named_by_whoever_runs_the_command():
    output = ensure_operator("--username", "grace")
    assert printed("username", output) == "grace"
    assert signs_in("grace", printed("password", output)).username == "grace"


def test_superuser_only_when_asked():
    output = ensure_operator("--username", "root-ops", "--superuser")
    assert signs_in("root-ops", printed("password", output)).is_superuser


def test_second_run_keeps_the_first_operator_and_prints_no_password():
    first = ensure_operator()
    username, password = printed("username", first), printed("password", first)

    output = ensure_operator()

    assert printed("password", output) is None
    assert f"Operator accounts exist ({username})" in output
    assert signs_in(username, password) is not None
    assert get_user_model().objects.count() == 1


def test_second_run_with_the_name_keeps_the_password():
    password = printed("password", ensure_operator("--username", "grace"))
    output = ensure_operator("--username", "grace")
    assert printed("password", output) is None
    assert "exists; its password is unchanged" in output
    assert signs_in("grace", password) is not None


def test_existing_account_joins_the_operators_group_and_keeps_its_password():
    alice = get_user_model().objects.create_user("alice", password="alice-long-password")

    ensure_operator("--username", "alice")

    alice.refresh_from_db()
    assert alice.groups.filter(name="Operators").exists()
    assert signs_in("alice", "alice-long-password") is not None


def test_operators_group_is_created_once():
    ensure_operator()
    ensure_operator("--username", "bob")
    assert Group.objects.filter(name="Operators").count() == 1


def test_empty_username_is_refused():
    with pytest.raises(CommandError, match="must not be empty"):
        ensure_operator("--username", " ")
    assert not get_user_model().objects.exists()


def test_creating_the_account_leaves_an_audit_entry():
    username = printed("username", ensure_operator())
    entry = AuditEntry.objects.get(action="create_account")
    assert entry.target == username
    assert entry.actor_name.startswith("cli")
