"""The supervisor runs programs together and leaves nothing running when stopped."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.processes import Output

# A program that reports its process group and starts a grandchild in it, as a Celery
# worker starts its pool.
WITH_GRANDCHILD = "echo group $$; sleep 300 & wait"
# Seconds to wait for a line of the supervisor, or for it to finish.
DEADLINE = 30


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def supervise():
    """
    Start a supervisor in a process of its own over the given shell programs; stop it afterwards.

    The process's ``output`` reads what it prints, each read with a deadline.
    """
    started = []

    def start(programs, grace_seconds=5):
        script = textwrap.dedent(
            f"""
            import sys
            from opsdash.devserver.supervisor import Program, Supervisor
            programs = [Program(name, ["sh", "-c", command]) for name, command in {programs!r}]
            sys.exit(Supervisor(programs, grace_seconds={grace_seconds}).run())
            """
        )
        process = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        process.output = Output(process, "the supervisor")
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def read_groups(process, count):
    """Read the supervisor's output until `count` programs reported their group; return name -> pgid."""
    groups = {}
    while len(groups) < count:
        line = process.output.readline(timeout=DEADLINE)
        assert line, f"the supervisor stopped before every program started:\n{process.output.text()}"
        match = re.match(r"(\S+)\s+\| group (\d+)", line)
        if match:
            groups[match[1]] = int(match[2])
    return groups


def test_ctrl_c_stops_every_program_and_what_they_started(supervise):
    supervisor = supervise([("web", WITH_GRANDCHILD), ("worker", WITH_GRANDCHILD), ("beat", WITH_GRANDCHILD)])
    groups = read_groups(supervisor, 3)
    assert all(group_alive(pgid) for pgid in groups.values())

    supervisor.send_signal(signal.SIGINT)

    assert supervisor.wait(timeout=DEADLINE) == 0
    assert not any(group_alive(pgid) for pgid in groups.values())


def test_sigterm_stops_everything_too(supervise):
    supervisor = supervise([("web", WITH_GRANDCHILD), ("worker", WITH_GRANDCHILD)])
    groups = read_groups(supervisor, 2)

    supervisor.send_signal(signal.SIGTERM)

    assert supervisor.wait(timeout=DEADLINE) == 0
    assert not any(group_alive(pgid) for pgid in groups.values())


def test_program_that_exits_stops_the_others_and_fails_the_run(supervise):
    supervisor = supervise([("web", WITH_GRANDCHILD), ("worker", "echo group $$; sleep 0.5; exit 3")])
    groups = read_groups(supervisor, 2)

    output = supervisor.output.read_rest(timeout=DEADLINE)

    assert supervisor.wait(timeout=DEADLINE) == 1
    assert "worker | exited with status 3; stopping the others" in output
    assert not group_alive(groups["web"])


def test_program_that_ignores_sigterm_is_killed_after_the_grace_period(supervise):
    stubborn = "trap '' TERM; echo group $$; sleep 300 & wait"
    supervisor = supervise([("web", WITH_GRANDCHILD), ("stubborn", stubborn)], grace_seconds=1)
    groups = read_groups(supervisor, 2)

    supervisor.send_signal(signal.SIGINT)
    output = supervisor.output.read_rest(timeout=DEADLINE)

    assert supervisor.wait(timeout=DEADLINE) == 0
    assert f"process group {groups['stubborn']} outlived 1s; killing it" in output
    assert wait_until(lambda: not any(group_alive(pgid) for pgid in groups.values()))


def test_output_is_prefixed_with_the_program_name(supervise):
    supervisor = supervise(
        [("web", "echo listening; echo group $$; sleep 300"), ("worker", "echo group $$; sleep 300")]
    )
    lines = supervisor.output.read_until(r"^web +\| group", timeout=DEADLINE).splitlines(keepends=True)
    supervisor.send_signal(signal.SIGINT)
    supervisor.wait(timeout=DEADLINE)

    assert "web    | listening\n" in lines
