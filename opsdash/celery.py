import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdash.settings")

app = Celery("opsdash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _use_job_timeouts(**kwargs):
    """Give the worker's jobs their longer statement timeout and the repair's lock timeout."""
    from opsdash.timeouts import use_job_timeouts

    use_job_timeouts()
