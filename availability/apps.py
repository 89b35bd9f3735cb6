from django.apps import AppConfig


class AvailabilityConfig(AppConfig):
    name = "availability"
    verbose_name = "Availability of the platform database and the job queue"
