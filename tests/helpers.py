"""Read and age the platform tables in tests: what a repair changed, and when; age a job run."""

from datetime import UTC, datetime

from django.db import connections
from django.db.models import F

from consistency.engine import repair
from consistency.models import JobChunk, JobRun

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def backdate_platform_rows():
    """Set every platform row's updated_at to LONG_AGO, so a repair's now() stands out."""
    with connections["platform"].cursor() as cursor:
        for table in repair.TABLES:
            cursor.execute(f"update {table} set updated_at = %s", [LONG_AGO])


def platform_contents():
    """Return every row of the three therapist tables and the intervention log, as text, sorted."""
    contents = {}
    with connections["platform"].cursor() as cursor:
        for table in (*repair.TABLES, "manual_intervention_log"):
            cursor.execute(f"select t::text from {table} t order by 1")
            contents[table] = [row[0] for row in cursor.fetchall()]
    return contents


def repair_everyone(**kwargs):
    """Repair every therapist as one chunk."""
    return repair.repair_range(repair.FIRST_ID, repair.LAST_ID, **kwargs)


def open_interventions(operation=None):
    """Return (operation, entity_id) of the unresolved interventions, sorted."""
    sql = "select operation, entity_id from manual_intervention_log where resolved is not true"
    params = []
    if operation:
        sql += " and operation = %s"
        params.append(operation)
    with connections["platform"].cursor() as cursor:
        cursor.execute(sql + " order by 1, 2", params)
        return cursor.fetchall()


def move_back(job, by):
    """Move every timestamp of a job run and its chunks back by ``by``: as if it had all happened that much earlier."""
    JobRun.objects.filter(pk=job.pk).update(created_at=F("created_at") - by, started_at=F("started_at") - by)
    for field in ("started_at", "finished_at"):
        JobChunk.objects.filter(job_id=job.pk, **{f"{field}__isnull": False}).update(**{field: F(field) - by})
    job.refresh_from_db()


def repair_all_job(user, chunks=None, dry_run=False):
    """
    Run a repair-all (or its dry run) as the workers do, in this process: begin it, run
    `chunks` of its chunks through the chunk task (all of them, then close the job, when
    None), and return the job as the runner left it.
    """
    from consistency import tasks
    from consistency.jobs import runner
    from consistency.jobs import service as jobs
    from consistency.models import JobRun

    job = jobs.start_repair_all(user, dry_run=dry_run, queue=False)
    indexes = runner.begin_repair_all(job.pk)
    for index in indexes[:chunks]:
        tasks.repair_chunk.apply(args=(job.pk, index))
    if chunks is None:
        runner.finish_repair_all(job.pk)
    return JobRun.objects.get(pk=job.pk)


def refuse_in_platform(table, constraint, condition):
    """Add a check constraint named `constraint` that refuses the rows new writes make of `table`."""
    name = '"' + constraint.replace('"', '""') + '"'
    with connections["platform"].cursor() as cursor:
        cursor.execute(f"alter table {table} add constraint {name} check ({condition}) not valid")
