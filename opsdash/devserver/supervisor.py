"""
Run several long-lived processes together and stop them all on Ctrl-C.

Each process starts in a session (and so a process group) of its own: the terminal's
Ctrl-C reaches only the supervisor, which then stops every group in order, including
the children a process made (Celery's pool), and kills what outlives the grace period.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Program:
    """A process to run: a short name for its output, the command line, its environment."""

    name: str
    argv: list
    env: dict = field(default_factory=lambda: dict(os.environ))
    process: subprocess.Popen = None


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


class Supervisor:
    """Start programs, relay their output line by line with a name prefix, stop them together."""

    def __init__(self, programs, grace_seconds=15, out=None):
        self.programs = programs
        self.grace_seconds = grace_seconds
        self.out = out or sys.stdout
        self._stop_requested = threading.Event()
        self._signals = 0
        self._write_lock = threading.Lock()
        self._relays = []
        self._width = max(len(p.name) for p in programs)

    def say(self, name, line):
        with self._write_lock:
            self.out.write(f"{name:<{self._width}} | {line}\n")
            self.out.flush()

    def _relay(self, program):
        for line in program.process.stdout:
            self.say(program.name, line.rstrip("\n"))

    def _on_signal(self, signum, frame):
        self._signals += 1
        self._stop_requested.set()
        if self._signals > 1:
            # A second Ctrl-C: the operator does not want to wait for running tasks.
            for program in self.programs:
                if program.process is not None:
                    _signal_group(program.process.pid, signal.SIGKILL)

    def start(self):
        """Start every program in its own session with its output piped to the relay."""
        for program in self.programs:
            env = dict(program.env, PYTHONUNBUFFERED="1")
            program.process = subprocess.Popen(
                program.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                start_new_session=True,
            )
            relay = threading.Thread(target=self._relay, args=(program,), daemon=True)
            relay.start()
            self._relays.append(relay)

    def wait(self):
        """
        Wait for Ctrl-C (SIGINT) or SIGTERM, or for a program to exit; then stop them all.

        Return 0 when stopped on request, 1 when a program exited by itself.
        """
        exited = None
        while not self._stop_requested.wait(0.2):
            exited = next((p for p in self.programs if p.process.poll() is not None), None)
            if exited is not None:
                self.say(exited.name, f"exited with status {exited.process.returncode}; stopping the others")
                break
        self.stop()
        return 0 if exited is None else 1

    def stop(self):
        """
        Stop every program and everything it started.

        1. SIGTERM to each process group (a Celery worker finishes its running task).
        2. Wait for the groups to empty, up to the grace period.
        3. SIGKILL what is left.
        """
        started = [p.process for p in self.programs if p.process is not None]
        for process in started:
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline:
            for process in started:
                process.poll()  # reap the group leaders, so that they do not count as alive
            if not any(_group_alive(process.pid) for process in started):
                break
            time.sleep(0.1)
        for process in started:
            if _group_alive(process.pid):
                self.say("opsdash", f"process group {process.pid} outlived {self.grace_seconds}s; killing it")
                _signal_group(process.pid, signal.SIGKILL)
        for process in started:
            process.wait()
        for relay in self._relays:
            relay.join(timeout=2)

    def run(self):
        """Start the programs and supervise them until stopped; return the exit status."""
        # The handlers go in before the first program starts: a Ctrl-C that arrives
        # while the programs are starting must stop them too, not kill the supervisor.
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            try:
                self.start()
            except BaseException:
                self.stop()
                raise
            return self.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
