"""ensure_operator: the run command's operator account, created once with a printed password."""

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def ensure_operator(*args):
    out = StringIO()
    call_command("ensure_operator", *args, stdout=out)
    return out.getvalue()


def printed_password(output):
    match = re.search(r"password: (\S+)", output)
    return match[1] if match else None


def test_new_operator_signs_in_with_the_printed_password():
    output = ensure_operator()

    password = printed_password(output)
    user = authenticate(username="operator", password=password)
    assert user is not None
    assert user.is_superuser and user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["Operators"]
    assert "shown only this once" in output


def test_second_run_keeps_the_password_and_prints_none():
    password = printed_password(ensure_operator())

    output = ensure_operator()

    assert printed_password(output) is None
    assert "exists; its password is unchanged" in output
    assert authenticate(username="operator", password=password) is not None
    assert get_user_model().objects.filter(username="operator").count() == 1


def test_existing_account_joins_the_operators_group_and_keeps_its_password():
    alice = get_user_model().objects.create_user("alice", password="alice-long-password")

    ensure_operator("--username", "alice")

    alice.refresh_from_db()
    assert alice.groups.filter(name="Operators").exists()
    assert authenticate(username="alice", password="alice-long-password") is not None


def test_operators_group_is_created_once():
    ensure_operator()
    ensure_operator("--username", "bob")
    assert Group.objects.filter(name="Operators").count() == 1


def test_empty_username_is_refused():
    with pytest.raises(CommandError, match="must not be empty"):
        ensure_operator("--username", " ")
    assert not get_user_model().objects.exists()
