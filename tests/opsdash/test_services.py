"""Finding PostgreSQL and Redis, creating databases, and the embedded servers of the run command."""

import uuid

import psutil
import psycopg
import pytest
import redis
from django.conf import settings

from opsdash.devserver.services import (
    Database,
    EmbeddedPostgres,
    EmbeddedRedis,
    RedisURL,
    ServiceError,
    ensure_database,
    redact,
)
from tests.worker import postgres_url


@pytest.fixture
def throwaway_database_name():
    """A database name that does not exist yet; dropped after the test."""
    name = f"opsdash_services_{uuid.uuid4().hex[:10]}"
    yield name
    admin = Database(postgres_url(settings.DATABASES["default"]))
    with admin.connect("postgres") as connection:
        connection.execute(psycopg.sql.SQL("drop database if exists {}").format(psycopg.sql.Identifier(name)))


def test_configured_postgres_answers():
    assert Database(postgres_url(settings.DATABASES["default"])).answers()


def test_postgres_on_a_closed_port_does_not_answer(closed_port):
    assert not Database(f"postgres://postgres@127.0.0.1:{closed_port}/opsdash").answers()


def test_missing_database_is_created_once(throwaway_database_name):
    database = Database(postgres_url(settings.DATABASES["default"], NAME=throwaway_database_name))

    assert ensure_database(database) is True
    assert ensure_database(database) is False
    with database.connect(throwaway_database_name) as connection:
        assert connection.execute("select current_database()").fetchone() == (throwaway_database_name,)


def test_postgres_that_refuses_opsdash_is_an_error_not_a_reason_to_embed():
    database = Database(postgres_url(settings.DATABASES["default"], USER="no_such_role_for_opsdash"))

    assert database.answers()
    with pytest.raises(ServiceError, match="answers but refuses opsdash"):
        ensure_database(database)


def test_configured_redis_answers():
    broker = RedisURL(settings.CELERY_BROKER_URL)
    assert broker.answers()
    broker.check()


def test_redis_on_a_closed_port_does_not_answer(closed_port):
    assert not RedisURL(f"redis://127.0.0.1:{closed_port}/3").answers()


def test_redis_url_keeps_its_database_number():
    assert RedisURL("redis://127.0.0.1:6379/4").db == 4
    assert RedisURL("redis://127.0.0.1:6379").db == 0


def test_printed_urls_hide_the_password():
    assert (
        redact("postgres://ops:s3cret@db.example.com:5432/opsdash") == "postgres://ops:***@db.example.com:5432/opsdash"
    )
    assert redact("redis://127.0.0.1:6379/1") == "redis://127.0.0.1:6379/1"


def test_embedded_postgres_serves_databases_and_stops(data_dir):
    postgres = EmbeddedPostgres(data_dir / "postgres")
    postgres.start()
    try:
        database = Database(postgres.url_for("opsdash_demo"))
        assert database.answers()
        assert ensure_database(database) is True
        with database.connect("opsdash_demo") as connection:
            assert connection.execute("select 41 + 1").fetchone() == (42,)
    finally:
        postgres.stop()
    assert not database.answers()


def test_embedded_postgres_stops_even_when_a_directory_above_its_data_turned_private(tmp_path):
    # pgserver, run as root, runs PostgreSQL as a user of its own, which needs to get
    # through every directory above the data; each new pytest session makes
    # /tmp/pytest-of-<user> private again, as this chmod does.
    private = tmp_path / "private"
    postgres = EmbeddedPostgres(private / "postgres")
    postgres.start()
    database = Database(postgres.url_for("postgres"))
    postmaster = psutil.Process(postgres._server.get_pid())
    private.chmod(0o700)
    try:
        postgres.stop()
    finally:
        private.chmod(0o755)
    assert not postmaster.is_running()
    assert not database.answers()
    assert not (private / "postgres" / "postmaster.pid").exists()


def test_embedded_redis_serves_celery_urls_and_stops(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    try:
        url = server.url_for(2)
        client = redis.Redis.from_url(url)
        client.set("opsdash", "ok")
        assert client.get("opsdash") == b"ok"
        assert client.connection_pool.connection_kwargs["db"] == 2
        client.close()
    finally:
        server.stop()
    assert not RedisURL(url).answers()
