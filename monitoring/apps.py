from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring and alerts"

    def ready(self):
        from . import signals  # noqa: F401 connects the receivers
