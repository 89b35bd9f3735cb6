from django.core.management.base import BaseCommand

from interventions.payloads import repair_payloads


class Command(BaseCommand):
    help = (
        "Rewrite the intervention payloads opsdash wrote as a JSON string holding an object "
        "(before the fix) as that object; every other row is left alone. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count the rows to repair, write nothing")

    def handle(self, *args, **options):
        result = repair_payloads(dry_run=options["dry_run"])
        verb = "would repair" if options["dry_run"] else "repaired"
        self.stdout.write(
            f"{verb} {result.repaired} double-encoded payloads written by opsdash; "
            f"left alone {result.left_alone} other string payloads under its operations"
        )
