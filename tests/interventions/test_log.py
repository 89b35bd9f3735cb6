"""The intervention log rules of docs/rules.md §4: logged once while unresolved, resolved when gone."""

import queue
import threading
import time

import pytest
from django.db import connections, transaction

from interventions.log import log_intervention, log_interventions, resolve_open
from interventions.models import Intervention

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def test_a_problem_is_logged_once_while_unresolved():
    assert log_intervention("missing-profile", "ada@example.com", "no profile", {"user_id": "1"}) is True
    assert log_intervention("missing-profile", "ada@example.com", "still no profile") is False
    [row] = Intervention.objects.all()
    assert (row.error, row.payload, row.resolved) == ("no profile", {"user_id": "1"}, False)


def test_the_same_entity_is_logged_once_per_operation():
    assert log_intervention("missing-profile", "ada@example.com", "no profile")
    assert log_intervention("duplicate-user", "ada@example.com", "two users")
    assert Intervention.objects.count() == 2


def test_a_resolved_problem_that_comes_back_is_logged_again():
    log_intervention("avatar-sync", "ada@example.com", "trigger failed")
    assert resolve_open("avatar-sync", "ada@example.com", resolved_by="alice", note="fixed by hand") == 1
    assert log_intervention("avatar-sync", "ada@example.com", "failed again")
    assert Intervention.objects.filter(resolved=False).count() == 1


def test_many_problems_are_logged_in_one_statement_each_once():
    log_intervention("missing-profile", "old@example.com", "already there")
    entries = [
        {"operation": "missing-profile", "entity_id": "old@example.com", "error": "again", "payload": None},
        {"operation": "missing-profile", "entity_id": "new@example.com", "error": "new", "payload": {"n": 1}},
        {"operation": "missing-profile", "entity_id": "new@example.com", "error": "twice", "payload": {"n": 2}},
    ]
    assert log_interventions(entries) == 1
    assert sorted(Intervention.objects.values_list("entity_id", flat=True)) == ["new@example.com", "old@example.com"]


def test_resolving_matches_the_normalised_email_and_the_user_id():
    Intervention.objects.create(operation="avatar-sync", entity_id=" Ada@Example.com", error="by email")
    Intervention.objects.create(operation="avatar-sync", entity_id="6f1c", error="by user id")
    Intervention.objects.create(operation="avatar-sync", entity_id="bob@example.com", error="someone else")
    Intervention.objects.create(operation="profile-sync", entity_id="ada@example.com", error="another problem")
    assert resolve_open(["avatar-sync"], "ada@example.com", resolved_by="opsdash", note="gone", user_id="6f1c") == 2
    resolved = Intervention.objects.filter(resolved=True)
    assert {(r.resolved_by, r.resolution_notes) for r in resolved} == {("opsdash", "gone")}
    assert all(r.resolved_at for r in resolved)
    assert set(Intervention.objects.filter(resolved=False).values_list("error", flat=True)) == {
        "someone else",
        "another problem",
    }


def test_resolving_twice_resolves_nothing_more():
    log_intervention("avatar-sync", "ada@example.com", "trigger failed")
    resolve_open("avatar-sync", "ada@example.com", resolved_by="alice", note="first")
    assert resolve_open("avatar-sync", "ada@example.com", resolved_by="bob", note="second") == 0
    assert Intervention.objects.get().resolution_notes == "first"


def backend_pid():
    with connections["platform"].cursor() as cursor:
        cursor.execute("select pg_backend_pid()")
        return cursor.fetchone()[0]


def wait_until_blocked(waiter, blocker, timeout=30):
    """Wait until PostgreSQL shows the backend ``waiter`` waiting for a lock ``blocker`` holds."""
    deadline = time.monotonic() + timeout
    with connections["platform"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("select %s = any(pg_blocking_pids(%s))", [blocker, waiter])
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {waiter} never waited for backend {blocker}")


def in_threads(*functions):
    """Run each function in a thread of its own; re-raise the first error of any."""
    errors = []

    def run(function):
        try:
            function()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(function,)) for function in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a writer is still running after 60 s"
    if errors:
        raise errors[0]


@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_two_writers_at_the_same_moment_log_a_problem_once(committed_platform):
    second_pid = queue.Queue()
    first_logged = threading.Event()
    results = []

    def first_writer():
        # Logs, then holds its transaction open until the second writer waits for it.
        with transaction.atomic(using="platform"):
            results.append(log_intervention("missing-profile", "race@example.com", "first"))
            first_logged.set()
            wait_until_blocked(second_pid.get(timeout=30), backend_pid())

    def second_writer():
        # Writes only once the first has logged and holds its transaction open.
        assert first_logged.wait(timeout=30), "the first writer never logged"
        second_pid.put(backend_pid())
        results.append(log_intervention("missing-profile", "race@example.com", "second"))

    in_threads(first_writer, second_writer)
    assert sorted(results) == [False, True]
    assert list(Intervention.objects.values_list("error", flat=True)) == ["first"]


@pytest.mark.django_db(databases=["default", "platform"], transaction=True)
def test_twenty_thousand_problems_are_logged_without_running_out_of_locks(committed_platform):
    # One advisory lock per problem: all in one transaction, PostgreSQL's shared lock
    # table runs out ("out of shared memory") long before 20,000.
    entries = [
        {"operation": "orphan-enrollment", "entity_id": f"orphan{n}@example.com", "error": "orphan", "payload": None}
        for n in range(20_000)
    ]
    assert log_interventions(entries) == 20_000
    assert log_interventions(entries) == 0
