from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseError

from consistency.models import AuditAction
from consistency.models.audit import cli_actor_name, record
from consistency.safety_net import service as safety_net
from opsdash.timeouts import use_job_timeouts

AUDITED = {"install": AuditAction.SAFETY_NET_INSTALL, "rollback": AuditAction.SAFETY_NET_ROLLBACK}


def _yes_no(value):
    return "-" if value is None else ("yes" if value else "no")


def format_status(current):
    """Return the status as a plain-text table, one line per expected object."""
    rows = [("kind", "name", "table", "exists", "enabled", "definition")]
    for obj in current.objects:
        if not obj.exists:
            definition = "-"
        else:
            definition = "shipped" if obj.matches_shipped_definition else "DIFFERS"
        rows.append((obj.kind, obj.name, obj.table or "-", _yes_no(obj.exists), _yes_no(obj.enabled), definition))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip() for row in rows]
    lines += ["", f"Safety net: {current.state}"]
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Install, roll back or show the safety-net triggers in the platform database (docs/rules.md §5). "
        "install and rollback each run in one transaction and can be repeated."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["install", "rollback", "status"])

    def handle(self, *args, **options):
        use_job_timeouts()
        action = {
            "install": safety_net.install,
            "rollback": safety_net.rollback,
            "status": safety_net.status,
        }[options["action"]]
        try:
            current = action()
        except safety_net.SafetyNetError as exc:
            raise CommandError(f"cannot {options['action']} the safety net: {exc}") from None
        except DatabaseError as exc:
            # The transaction was rolled back: the platform database is as it was.
            raise CommandError(f"{options['action']} failed, nothing was changed: {exc}") from None
        if options["action"] in AUDITED:
            # The same entry the safety-net page records, naming who ran the command.
            record(
                None, AUDITED[options["action"]], "safety net", actor_name=cli_actor_name(), state=str(current.state)
            )
        self.stdout.write(format_status(current))
