import json

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseError

from consistency.catalogue import CHECK_NAMES, PROBLEMS
from consistency.engine.checks import compute_metrics
from opsdash.timeouts import use_job_timeouts


def _percent(part, whole):
    return f"{100 * part / whole:.1f}%" if whole else "-"


class Command(BaseCommand):
    help = "Print the consistency metrics of every therapist (writes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        use_job_timeouts()
        try:
            metrics = compute_metrics()
        except DatabaseError as exc:
            raise CommandError(f"cannot read the platform database: {exc}") from None

        if options["json"]:
            self.stdout.write(json.dumps(metrics))
            return

        total = metrics["therapists"]
        lines = [
            f"Therapists      {total:>10}",
            f"Consistent      {metrics['consistent']:>10}  {_percent(metrics['consistent'], total)}",
            "",
            "Inconsistent per check",
        ]
        for check in CHECK_NAMES:
            count = metrics["inconsistent"][check]
            lines.append(f"  {check:<22}{count:>10}  {_percent(count, total)}")
        lines += ["", "Link problems"]
        for problem, count in metrics["link_problems"].items():
            lines.append(f"  {PROBLEMS[problem].operation:<22}{count:>10}  {PROBLEMS[problem].unit}")
        unresolved = metrics["unresolved_interventions"]
        lines += [
            "",
            "Unresolved interventions  "
            + ("(no manual_intervention_log table)" if unresolved is None else str(unresolved)),
            f"Computed at {metrics['computed_at']}",
        ]
        self.stdout.write("\n".join(lines))
