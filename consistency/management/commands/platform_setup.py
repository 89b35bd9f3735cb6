from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseError

from consistency.platform import setup as platform_setup
from consistency.safety_net import service as safety_net
from opsdash.timeouts import use_job_timeouts

from .safety_net import format_status


class Command(BaseCommand):
    help = (
        "Create what opsdash needs in the platform database: manual_intervention_log and its index, "
        "the safety net, the recommended indexes (concurrently); with --grant, the grants of the "
        "everyday role. Run as a role that owns the tables; every step can be repeated. "
        "--sql prints the statements for a DBA instead of running them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sql", action="store_true", help="print the SQL (for psql) instead of running it")
        parser.add_argument(
            "--grant",
            metavar="ROLE",
            help=f"also grant ROLE what everyday use needs (the role must exist); with --sql, the grants "
            f"are printed for ROLE, else for {platform_setup.APP_ROLE}",
        )

    def handle(self, *args, sql, grant, **options):
        if sql:
            self.stdout.write(platform_setup.script(role=grant or platform_setup.APP_ROLE))
            return
        use_job_timeouts()
        try:
            status = platform_setup.run(role=grant, report=lambda message: self.stdout.write(f"- {message}"))
        except safety_net.SafetyNetError as exc:
            raise CommandError(f"cannot set the platform database up: {exc}") from None
        except DatabaseError as exc:
            raise CommandError(f"platform setup failed: {exc}") from None
        self.stdout.write(format_status(status))
        for index in platform_setup.index_status():
            state = "valid" if index.healthy else ("INVALID" if index.exists else "MISSING")
            self.stdout.write(f"Recommended index {index.name} on {index.table}: {state}")
