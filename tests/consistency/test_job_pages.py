"""The jobs list and a job's page, for jobs the real runner ran: figures named for what they are, and agreeing."""

import re
import threading

import pytest
from django.db import connection
from django.urls import reverse

from consistency.jobs import runner
from consistency.jobs import service as jobs
from consistency.models import JobState
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def three_with_stale_bio_and_name(settings):
    """Three therapists, each with two rows to write (profile bio, user name): 6 rows, 3 therapists."""
    settings.OPSDASH_REPAIR_CHUNK_SIZE = 2
    return [
        make_therapist(
            profile={"bio": f"Stale {n}."}, user={"full_name": f"Old name {n}"}, enrollment={"full_name": f"Name {n}"}
        )
        for n in range(3)
    ]


def dry_run(user):
    job = jobs.start_repair_all(user, dry_run=True, queue=False)
    return runner.run_repair_all(job.pk)


def text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_dry_run_lists_only_the_columns_it_would_change(viewer_client, olivia, three_with_stale_bio_and_name):
    job = dry_run(olivia)
    assert job.rows_changed["therapist_enrollments"]["experience_years"] == 0
    html = viewer_client.get(reverse("consistency:job", args=[job.pk])).content.decode()
    table = html[html.index("What it would change") : html.index("</table>", html.index("What it would change"))]
    assert re.findall(r"<code>(\w+)</code></td><td class=\"num\">(\d+)", table) == [("bio", "3"), ("full_name", "3")]
    assert "experience_years" not in table


def test_jobs_list_and_job_page_show_the_same_would_change_figure_for_a_dry_run(
    viewer_client, olivia, three_with_stale_bio_and_name
):
    job = dry_run(olivia)
    assert sum(sum(c.values()) for c in job.rows_changed.values()) == 6
    listing = viewer_client.get(reverse("consistency:jobs")).content.decode()
    row = text(listing[listing.index(f">{job.pk}</a>") :])
    row = row[: row.index("</tr>") if "</tr>" in row else 400]
    assert "Therapists changed" in text(listing)
    assert "3 would change" in row and " 6 " not in row
    page = text(viewer_client.get(reverse("consistency:job", args=[job.pk])).content.decode())
    assert "3 therapists examined, 3 would change" in page
    assert "Therapists that would change 3" in page


def test_job_page_names_failed_repairs_and_logged_interventions_apart(viewer_client, olivia, settings):
    # A therapist without a profile is a link problem: logged as an intervention,
    # while no repair failed.
    make_therapist("noprofile@example.com", profile=False)
    make_therapist(profile={"bio": "Stale."})
    job = runner.run_repair_all(jobs.start_repair_all(olivia, queue=False).pk)
    assert (job.therapists_failed, job.interventions_logged) == (0, 1)
    page = text(viewer_client.get(reverse("consistency:job", args=[job.pk])).content.decode())
    assert "failed and logged" not in page
    assert "1 changed, 0 whose repair failed" in page
    assert "Therapists whose repair failed 0" in page
    assert "Interventions logged 1 problems that need a person" in page


@pytest.mark.django_db(transaction=True, databases=["default", "platform"])
def test_badge_and_states_agree_when_the_job_starts_while_the_page_is_read(client, olivia, committed_platform):
    """The worker starts the job between the page's reads: both show the job as of one instant."""
    client.force_login(olivia)
    job = jobs.start_repair_all(olivia, queue=False)
    started = []

    def worker_starts_the_job_before_the_states_are_read(execute, sql, params, many, context):
        if "consistency_jobevent" in sql and not started:
            # Another connection, as a worker's: it commits the move to running.
            thread = threading.Thread(
                target=lambda: runner.transition(job.pk, JobState.RUNNING, "Started", from_states=[JobState.QUEUED])
            )
            thread.start()
            thread.join()
            started.append(True)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(worker_starts_the_job_before_the_states_are_read):
        html = client.get(reverse("consistency:job_live", args=[job.pk])).content.decode()
    assert started
    badge = re.search(r'<p><span class="state state-(\w+)"', html).group(1)
    states = re.findall(r'<li><time[^>]*>[^<]*</time> <span class="state state-(\w+)"', html)
    assert states[-1] == badge, (badge, states)
