"""
The test suite's PostgreSQL and Redis: the configured ones where they answer, else the
embedded servers the run command uses, started once per test session.

Loaded with ``-p opsdash.devserver.pytest_services`` (pyproject.toml), so it points the
environment at the servers before pytest-django reads the settings. A laptop with
neither server then runs the suite with nothing but Python; CI, where both answer,
uses them as before. ``OPSDASH_TEST_EMBEDDED=1`` asks for the embedded ones anyway.
"""

import os

import pytest

from opsdash.devserver.run import ROOT, Services, configure

_services = None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Find or start the servers, before pytest-django imports the settings."""
    global _services
    _services = Services(ROOT / ".data" / "test", force_embedded=bool(os.environ.get("OPSDASH_TEST_EMBEDDED")))
    configure(_services)
    return (yield)


def pytest_unconfigure(config):
    """Stop the embedded servers this session started, after every test."""
    if _services is not None:
        _services.stop()
