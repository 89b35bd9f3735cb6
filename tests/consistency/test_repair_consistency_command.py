"""`python manage.py repair_consistency [--dry-run] [--email EMAIL] [--sync]` (docs/rules.md §7)."""

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from consistency.models import JobKind, JobRun, JobState
from tests.consistency.conftest import queue_length
from tests.factories import make_therapist
from tests.helpers import platform_contents

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("repair_consistency", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def stale_profiles(settings):
    """Three therapists with a stale profile bio and one with a user name of its own; chunks of two."""
    settings.OPSDASH_REPAIR_CHUNK_SIZE = 2
    rows = [make_therapist(email=f"stale{n}@example.com", profile={"bio": "Stale."}) for n in range(3)]
    rows.append(
        make_therapist(email="named@example.com", user={"full_name": "Nick"}, enrollment={"full_name": "Nicole"})
    )
    return rows


def test_a_dry_run_reports_rows_per_table_and_column_and_writes_nothing(stale_profiles):
    before = platform_contents()
    out, _ = run("--dry-run", "--sync")
    assert platform_contents() == before
    assert "4 would change" in out
    assert "therapist_profiles.bio" in out and "3" in out.split("therapist_profiles.bio")[1].splitlines()[0]
    assert "users.full_name" in out
    assert JobRun.objects.get().dry_run


def test_a_dry_run_for_one_email_shows_before_and_after_values(stale_profiles):
    before = platform_contents()
    out, _ = run("--dry-run", "--email", "  Named@Example.com")
    assert platform_contents() == before
    assert "users.full_name: 'Nick' -> 'Nicole'" in out
    assert not JobRun.objects.exists()


def test_sync_repairs_everyone_with_progress_and_a_second_run_changes_nothing(stale_profiles):
    out, err = run("--sync")
    assert "succeeded" in out and "4 changed" in out
    assert "3/3 chunks" in err
    out, _ = run("--sync")
    assert "0 changed" in out and "nothing" in out


def test_sync_resyncs_one_therapist(stale_profiles):
    out, _ = run("--email", "stale1@example.com", "--sync")
    job = JobRun.objects.get()
    assert (job.kind, job.target, job.state) == (JobKind.RESYNC, "stale1@example.com", JobState.SUCCEEDED)
    assert "therapist_profiles.bio" in out
    _, _, profile = stale_profiles[1]
    profile.refresh_from_db()
    assert profile.bio == "Helps with anxiety."


def test_without_sync_the_job_is_queued_and_its_id_printed(stale_profiles, task_queue):
    out, _ = run()
    job = JobRun.objects.get()
    assert out.strip() == f"Queued repair-all job {job.pk}."
    assert queue_length(task_queue) == 1


def test_a_repair_all_already_queued_is_a_clear_error(stale_profiles, task_queue):
    run()
    with pytest.raises(CommandError, match="is already queued"):
        run("--sync")


def test_an_unknown_email_is_a_clear_error(stale_profiles):
    with pytest.raises(CommandError, match="No therapist has the email nobody@example.com"):
        run("--email", "nobody@example.com", "--sync")


def test_a_malformed_email_exits_non_zero_with_a_clear_message():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opsdash.settings"}
    result = subprocess.run(
        [sys.executable, "manage.py", "repair_consistency", "--dry-run", "--email", "not-an-email"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "'not-an-email' is not a valid email address" in result.stderr
