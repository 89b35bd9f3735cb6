from django.core.management.base import BaseCommand

from monitoring import alerts


class Command(BaseCommand):
    help = (
        "Evaluate every alert rule now and retry failed notifications. Run it from cron every minute "
        "where no browser keeps the overview open: it is what notices that no worker runs."
    )

    def handle(self, *args, **options):
        created = alerts.evaluate()
        alerts.retry_failed()
        self.stdout.write(f"{len(created)} notifications created")
