import shutil
import socket
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def closed_port():
    """
    A local port nothing listens on, for as long as the test runs.

    The port stays bound, never listening: connecting to it is refused, and no other
    process can take it between the moment it was picked and the moment it is used.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def data_dir():
    """
    A directory of its own for the embedded servers' data, outside pytest's temporary
    directories; removed after the test.

    The embedded PostgreSQL runs as another system user, which must reach its data
    directory. Every pytest session that starts on the machine makes
    /tmp/pytest-of-<user> private again (mode 0700), so under tmp_path the server's
    own pg_ctl could lose its data directory in the middle of a test.
    """
    path = Path(tempfile.mkdtemp(prefix="opsdash-test-data-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
