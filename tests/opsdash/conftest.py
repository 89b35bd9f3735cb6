import socket

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
