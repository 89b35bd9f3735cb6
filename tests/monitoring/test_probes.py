"""/healthz and /readyz: no session needed, nothing told beyond up or down, every dependency bounded."""

import time
from datetime import timedelta

import pytest
from django.db import connections

from tests.monitoring.conftest import make_snapshot

DEPENDENCIES = {"database", "platform_database", "redis", "workers", "snapshot"}


def test_healthz_answers_without_a_session_or_any_database_query(client):
    # No django_db mark: pytest-django fails any database access in this test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_healthz_answers_while_the_databases_are_unreachable(client, monkeypatch):
    for alias in ("default", "platform"):
        monkeypatch.setitem(connections[alias].settings_dict, "PORT", "1")
        connections[alias].close()
    assert client.get("/healthz").status_code == 200


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, databases=["default", "platform"])
def test_readyz_is_200_when_every_dependency_is_up(client, start_worker):
    start_worker()
    make_snapshot()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "up", "checks": {name: "up" for name in DEPENDENCIES}}


@pytest.mark.django_db(transaction=True, databases=["default", "platform"])
def test_readyz_is_503_and_names_the_platform_database_down_within_its_timeout(
    client, isolated_queue, monkeypatch, settings
):
    settings.OPSDASH_READY_TIMEOUT = 1
    make_snapshot()
    # A non-routable address: the connection attempt hangs until its timeout.
    monkeypatch.setitem(connections["platform"].settings_dict, "HOST", "10.255.255.1")
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 4
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["platform_database"] == "down"
    assert checks["database"] == "up"
    assert checks["redis"] == "up"


@pytest.mark.django_db(transaction=True, databases=["default", "platform"])
def test_readyz_reports_redis_down_and_reveals_only_up_or_down(client, isolated_queue, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    make_snapshot()
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["redis"] == "down"
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) == DEPENDENCIES
    assert set(body["checks"].values()) <= {"up", "down"}
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db(transaction=True, databases=["default", "platform"])
def test_readyz_reports_a_stale_snapshot_and_no_worker(client, isolated_queue, settings):
    settings.OPSDASH_SNAPSHOT_MINUTES = 5
    make_snapshot(age=timedelta(minutes=30))
    checks = client.get("/readyz").json()["checks"]
    assert checks["snapshot"] == "down"
    assert checks["workers"] == "down"
    assert checks["database"] == "up"
