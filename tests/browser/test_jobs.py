"""Jobs from the browser, run by a real Celery worker: resync one therapist, repair everyone."""

from datetime import timedelta
from uuid import UUID

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from consistency.jobs import stale as stale_jobs
from consistency.models import JobChunk, JobKind, JobRun
from consistency.reporting.results import refresh_results
from tests.factories import make_therapist

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


def test_resync_from_the_drilldown_turns_the_row_consistent(
    live_server, sign_in, seeded_platform, olivia, celery_worker, screenshot
):
    make_therapist("anna.drift@example.com", profile={"bio": "Anna's old bio"})
    refresh_results()
    page = sign_in("olivia")
    page.goto(live_server.url + "/checks/bio/")
    screenshot("drilldown")
    page.fill("input[name=email]", "anna.drift")
    row = page.locator("tr", has_text="anna.drift@example.com")
    expect(row).to_contain_text("Anna's old bio")
    row.get_by_role("button", name="Resync").click()
    expect(page.locator("tr.consistent-now")).to_contain_text("✓ consistent", timeout=30_000)


def test_repair_all_shows_its_dry_run_then_progress_to_one_hundred_percent(
    live_server, sign_in, seeded_platform, olivia, celery_worker, screenshot
):
    page = sign_in("olivia")
    page.goto(live_server.url + "/jobs/")
    page.get_by_role("button", name="Repair all…").click()
    expect(page.get_by_role("button", name="Run repair-all now")).to_be_visible(timeout=60_000)
    expect(page.locator("#job-live")).to_contain_text("What it would change")
    expect(page.locator("#job-live table").first).to_contain_text("therapist_profiles")
    rows = page.locator("#job-live table").first.locator("tbody td.num").all_inner_texts()
    assert rows and "0" not in rows  # only the columns it would change
    would_change = page.locator("dl.figures dd").first.inner_text()
    dry_run_page = page.url
    page.goto(live_server.url + "/jobs/")
    expect(page.locator("table.data tbody tr").first).to_contain_text(f"{would_change} would change")
    page.goto(dry_run_page)
    screenshot("repair-all-dry-run")
    page.get_by_role("button", name="Run repair-all now").click()
    expect(page.locator("h1")).not_to_contain_text("dry run")
    expect(page.locator(".progress em")).to_have_text("100%", timeout=120_000)
    expect(page.locator("#job-live .state").first).to_have_text("Succeeded")
    expect(page.locator("#job-live")).to_contain_text("Metrics before and after")
    screenshot("repair-all")
    page.goto(live_server.url + "/")
    screenshot("overview-after-repair")


def test_an_operator_sees_a_stale_repair_all_and_ends_it_from_the_jobs_page(live_server, sign_in, olivia):
    # Its worker was killed in chunk 0, longer ago than a chunk's time limit.
    job = JobRun.objects.create(
        kind=JobKind.REPAIR_ALL, state="running", requested_by=olivia, started_at=timezone.now()
    )
    long_ago = timezone.now() - stale_jobs.time_limit(stale_jobs.CHUNK_TASK) - timedelta(minutes=5)
    JobChunk.objects.create(job=job, index=0, after=UUID(int=0), upto=UUID(int=1), state="running", started_at=long_ago)
    page = sign_in("olivia")
    page.goto(live_server.url + "/jobs/")
    running = page.locator(".joblist li", has_text=f"Repair all #{job.pk}")
    expect(running.locator(".pill")).to_have_text("stale")
    expect(running).to_contain_text("Chunk 0 has been running since")
    running.get_by_role("button", name="End stale job").click()
    expect(page.locator("#job-live .state").first).to_have_text("Failed")
    expect(page.locator(".timeline")).to_contain_text("Ended by olivia as stale: chunk 0 has been running since")
    expect(page.get_by_role("button", name="End stale job")).to_have_count(0)
