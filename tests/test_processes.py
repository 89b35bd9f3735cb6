"""Reading a subprocess's output never waits past its deadline, and a wait that fails shows the output."""

import subprocess
import time

import pytest

from tests.processes import Output, watched_output


@pytest.fixture
def hanging_process():
    """A process that prints a line, then hangs with its output open."""
    process = subprocess.Popen(["sh", "-c", "echo started; exec sleep 60"], stdout=subprocess.PIPE, text=True)
    yield process
    process.kill()
    process.wait()


def test_a_wait_for_a_line_that_never_comes_fails_at_its_deadline_with_the_output(hanging_process):
    output = Output(hanging_process, "a hanging process")
    began = time.monotonic()

    with pytest.raises(AssertionError, match=r"(?s)not seen within 0.5s.*started"):
        output.read_until(r"^ready", timeout=0.5)

    assert time.monotonic() - began < 5
    assert ("a hanging process", "started\n") in watched_output()


def test_reading_to_the_end_of_a_hanging_process_fails_at_its_deadline(hanging_process):
    output = Output(hanging_process, "a hanging process")

    with pytest.raises(AssertionError, match="the end of the output not seen within 0.5s"):
        output.read_rest(timeout=0.5)


def test_a_process_that_exits_ends_the_wait_at_once():
    process = subprocess.Popen(["sh", "-c", "echo one; echo two"], stdout=subprocess.PIPE, text=True)
    output = Output(process, "a short process")

    assert output.read_rest(timeout=30) == "one\ntwo\n"
    with pytest.raises(AssertionError, match="stopped before printing"):
        output.read_until("three", timeout=30)
    process.wait(30)
