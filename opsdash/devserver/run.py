"""
Run opsdash on this machine with one command: ``python -m opsdash.devserver.run`` (bin/opsdash-run
creates the virtualenv first).

1. Find PostgreSQL and Redis: the configured ones (or the local defaults) where they
   answer, else embedded ones with their data under .data/.
2. Create the databases, migrate opsdash's own, collect the static files.
3. Create the platform tables in a platform database that lacks them, and fill an
   empty one with seed_platform demo data.
4. Make sure an operator account exists (printing its password when it is new).
5. Take a snapshot of the metrics, so that the overview has figures from the first page.
6. Run the web server, a Celery worker and Celery beat until Ctrl-C, then stop them
   and the embedded servers.
"""

import argparse
import os
import secrets
import socket
import sys
from pathlib import Path

from opsdash import defaults
from opsdash.devserver.services import (
    Database,
    EmbeddedPostgres,
    EmbeddedRedis,
    RedisURL,
    ServiceError,
    ensure_database,
    redact,
)
from opsdash.devserver.supervisor import Program, Supervisor

ROOT = Path(__file__).resolve().parents[2]


def say(message):
    print(f"[opsdash] {message}", flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="opsdash-run",
        description="Set up and run opsdash: web server, Celery worker and beat (Ctrl-C stops everything).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address the web server listens on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port of the web server (default 8000; 0: a free one, printed)"
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="use embedded PostgreSQL and Redis even where the configured ones answer",
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data", help="where embedded servers keep data")
    parser.add_argument("--therapists", type=int, default=2000, help="therapists of the demo data (default 2000)")
    parser.add_argument("--drift", type=float, default=0.1, help="drift rate of the demo data (default 0.1)")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (default 2)")
    return parser.parse_args(argv)


class Services:
    """The PostgreSQL and Redis opsdash uses, and the embedded ones this run started."""

    def __init__(self, data_dir, force_embedded):
        self.data_dir = data_dir
        self.force_embedded = force_embedded
        self.postgres = None
        self.redis = None

    def _relative(self, path):
        return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path

    def database(self, variable, default):
        """Return the URL to use for one database, created if missing."""
        database = Database(os.environ.get(variable) or default)
        host, port = database.server
        if not self.force_embedded and database.answers():
            say(f"{variable}: PostgreSQL at {redact(database.url)}")
        else:
            if self.postgres is None:
                self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
                reason = "as asked" if self.force_embedded else f"nothing answers at {host}:{port}"
                say(f"PostgreSQL: {reason}; starting {self.postgres.label} in {self._relative(self.postgres.data_dir)}")
                self.postgres.start()
            database = Database(self.postgres.url_for(database.name))
            say(f"{variable}: {self.postgres.label}, database {database.name}")
        if ensure_database(database):
            say(f"created database {database.name}")
        return database.url

    def broker(self):
        """Return the Redis URL to use for Celery."""
        broker = RedisURL(os.environ.get("CELERY_BROKER_URL") or defaults.CELERY_BROKER_URL)
        if not broker.probeable:
            say(f"CELERY_BROKER_URL: {redact(broker.url)} (not a redis:// URL: used as configured)")
            return broker.url
        host, port = broker.server
        if not self.force_embedded and broker.answers():
            broker.check()
            say(f"CELERY_BROKER_URL: Redis at {redact(broker.url)}")
            return broker.url
        self.redis = EmbeddedRedis(self.data_dir / "redis")
        reason = "as asked" if self.force_embedded else f"nothing answers at {host}:{port}"
        say(f"Redis: {reason}; starting {self.redis.label} in {self._relative(self.redis.data_dir)}")
        self.redis.start()
        url = self.redis.url_for(broker.db)
        say(f"CELERY_BROKER_URL: {self.redis.label} at {url}")
        return url

    def stop(self):
        """Stop the embedded servers this run started (after the processes that use them)."""
        if self.redis is not None:
            self.redis.stop()
            say(f"stopped {self.redis.label}")
        if self.postgres is not None:
            self.postgres.stop()
            say(f"stopped {self.postgres.label}")


def configure(services):
    """Point the environment (of this process and the ones it starts) at the services."""
    environment = {
        "DATABASE_URL": services.database("DATABASE_URL", defaults.DATABASE_URL),
        "PLATFORM_DATABASE_URL": services.database("PLATFORM_DATABASE_URL", defaults.PLATFORM_DATABASE_URL),
    }
    configured_backend = os.environ.get("CELERY_RESULT_BACKEND")
    broker = services.broker()
    environment["CELERY_BROKER_URL"] = broker
    if services.redis is not None and (
        not configured_backend or configured_backend == os.environ.get("CELERY_BROKER_URL")
    ):
        environment["CELERY_RESULT_BACKEND"] = broker
    os.environ.update(environment)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdash.settings")
    development_security(services.data_dir)


def development_security(data_dir):
    """
    Give the development server a secret key and plain-HTTP cookies, unless configured.

    The settings refuse to start without DJANGO_SECRET_KEY (no public fallback): this
    run keeps a random key of its own in .data/secret_key, so sessions outlive a
    restart. runserver speaks plain HTTP, so cookies cannot be HTTPS-only.
    """
    if not os.environ.get("DJANGO_SECRET_KEY"):
        key_file = data_dir / "secret_key"
        if not key_file.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            key_file.touch(mode=0o600)
            key_file.write_text(secrets.token_urlsafe(50))
            say(f"generated a secret key in {key_file}")
        os.environ["DJANGO_SECRET_KEY"] = key_file.read_text().strip()
    if not os.environ.get("DJANGO_SECURE_COOKIES"):
        os.environ["DJANGO_SECURE_COOKIES"] = "false"


def prepare(therapists, drift):
    """Migrate, collect static files, create and fill the platform tables, ensure an operator, take a snapshot."""
    import django
    from django.core.management import call_command, get_commands
    from django.db import connections

    django.setup()
    from consistency.models import PlatformUser
    from consistency.platform.schema import create_platform_tables, platform_tables_exist

    say("migrating opsdash's database")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)

    if not platform_tables_exist():
        # Only a database without the marketplace's tables gets them: a real platform
        # database already has them and is never migrated (docs/rules.md §1).
        create_platform_tables()
        say("created the platform tables (users, therapist_enrollments, therapist_profiles, manual_intervention_log)")
    if not PlatformUser.objects.exists():
        if "seed_platform" in get_commands():
            say(f"filling the empty platform database with demo data ({therapists} therapists, drift {drift})")
            call_command("seed_platform", "--therapists", str(therapists), "--drift", str(drift))
        else:
            say(
                "the platform database is empty and this version of opsdash has no seed_platform "
                "command: the dashboard will show no therapists. Fill it later with "
                f"python manage.py seed_platform --therapists {therapists} --drift {drift}"
            )

    call_command("ensure_operator")
    first_snapshot()
    connections.close_all()


def first_snapshot():
    """
    Take a snapshot of the metrics before the web server answers: without one the
    overview says "No metrics yet" until Celery beat takes one. A failure is reported
    (the overview shows it too) and does not stop the start.
    """
    from consistency.models import SnapshotSource
    from consistency.reporting.snapshots import take_snapshot

    say("taking a first snapshot of the metrics")
    try:
        snapshot = take_snapshot(SnapshotSource.STARTUP)
    except Exception as exc:  # any failure is reported; the start goes on
        say(f"the first snapshot failed, the overview says why: {type(exc).__name__}: {exc}")
        return
    say(
        f"first snapshot: {snapshot.consistent} of {snapshot.therapists} therapists consistent "
        f"({snapshot.duration_ms} ms)"
    )


def _free_port(host, port):
    """Return ``port`` if it is free on ``host`` (for port 0, a free port the system picks), or None."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return None
        return sock.getsockname()[1]


def programs(host, port, concurrency, run_dir):
    """Return the web server, the Celery worker and Celery beat, as the supervisor runs them."""
    python = sys.executable
    run_dir.mkdir(parents=True, exist_ok=True)
    celery = [python, "-m", "celery", "--app", "opsdash"]
    return [
        # --noreload: one process, so that stopping its group stops the server.
        Program("web", [python, str(ROOT / "manage.py"), "runserver", "--noreload", f"{host}:{port}"]),
        Program(
            "worker",
            celery
            + [
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--hostname",
                "opsdash@%h",
                "--pidfile",
                str(run_dir / "celery-worker.pid"),
            ],
        ),
        Program(
            "beat",
            celery
            + [
                "beat",
                "--loglevel",
                "INFO",
                "--pidfile",
                str(run_dir / "celery-beat.pid"),
                "--schedule",
                str(run_dir / "celerybeat-schedule"),
            ],
        ),
    ]


def main(argv=None):
    """Run opsdash until Ctrl-C; return the exit status."""
    args = parse_args(argv)
    os.chdir(ROOT)
    if _free_port(args.host, args.port) is None:
        say(f"port {args.port} on {args.host} is in use: stop what uses it or pass --port")
        return 1
    services = Services(args.data_dir.resolve(), args.embedded)
    try:
        configure(services)
        prepare(args.therapists, args.drift)
        # Port 0: a free port picked now, so that the line below names the real one; picked
        # this late, it stays free for the second the web server takes to bind it.
        port = args.port or _free_port(args.host, 0)
        supervisor = Supervisor(programs(args.host, port, args.concurrency, args.data_dir / "run"))
        say(f"opsdash runs at http://{args.host}:{port}/ (sign in with the operator account); Ctrl-C stops everything")
        status = supervisor.run()
        say("stopped the web server, the worker and beat")
        return status
    except ServiceError as exc:
        say(f"cannot start: {exc}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
