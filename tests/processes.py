"""
The subprocesses of the tests: their output read with a deadline, and shown when a test fails.

A blocking ``readline()`` waits forever for a process that hangs without closing its
output. Output reads the lines in a thread of its own, so a test waits for a line only
until its deadline; and everything a process wrote is added to the report of a test
that fails or times out (tests/conftest.py), rather than failing in silence.
"""

import re
import threading
import time

# (name, function returning the output so far) of the processes the running test started.
_watched = []


def watch(name, read):
    """Show ``read()`` under ``name`` in the report of the running test, should it fail."""
    _watched.append((name, read))


def watched_output():
    """Return (name, output) of every process the running test started."""
    return [(name, read()) for name, read in _watched]


def forget_watched():
    _watched.clear()


class Output:
    """The lines a process writes to its stdout, read as they come, each read with a deadline."""

    def __init__(self, process, name):
        self.lines = []
        self.closed = False
        self._read = 0
        self._changed = threading.Condition()
        threading.Thread(target=self._pump, args=(process.stdout,), name=f"output of {name}", daemon=True).start()
        watch(name, self.text)

    def _pump(self, stream):
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def text(self):
        """Everything the process wrote so far."""
        with self._changed:
            return "".join(self.lines)

    def _timed_out(self, what, timeout):
        return AssertionError(f"{what} not seen within {timeout}s; the output so far:\n{self.text()}")

    def readline(self, timeout):
        """Return the next line not read yet, or "" once the process closed its output."""
        return self._next(time.monotonic() + timeout, "a new line", timeout)

    def _next(self, deadline, what, timeout):
        with self._changed:
            while self._read == len(self.lines) and not self.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timed_out(what, timeout)
                self._changed.wait(remaining)
            if self._read == len(self.lines):
                return ""
            if time.monotonic() > deadline:
                # Lines that keep coming do not move the deadline either.
                raise self._timed_out(what, timeout)
            self._read += 1
            return self.lines[self._read - 1]

    def read_until(self, *patterns, timeout):
        """Read until every pattern has matched a line; return the lines read, joined."""
        deadline = time.monotonic() + timeout
        read, waiting = [], list(patterns)
        while waiting:
            line = self._next(deadline, f"a line matching {waiting!r}", timeout)
            if not line:
                raise AssertionError(f"the process stopped before printing {waiting!r}; its output:\n{self.text()}")
            read.append(line)
            waiting = [pattern for pattern in waiting if not re.search(pattern, line)]
        return "".join(read)

    def read_rest(self, timeout):
        """Read until the process closes its output; return the lines read, joined."""
        deadline = time.monotonic() + timeout
        read = []
        while line := self._next(deadline, "the end of the output", timeout):
            read.append(line)
        return "".join(read)
