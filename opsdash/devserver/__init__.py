"""The developer tooling of bin/opsdash-run (run, services, supervisor) and of the test suite (pytest_services)."""
