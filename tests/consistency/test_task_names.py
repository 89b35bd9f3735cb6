"""
The Celery task names are part of the contract with the queue: messages already queued,
the beat schedule and a worker of the previous release name them. They are given
explicitly, so that moving a module cannot rename a task.
"""

from celery.local import Proxy
from django.conf import settings

from consistency import tasks
from opsdash.celery import app


def test_every_consistency_task_is_named_after_consistency_tasks_and_its_function():
    found = {name: value for name, value in vars(tasks).items() if isinstance(value, Proxy) and hasattr(value, "delay")}
    assert found, "consistency.tasks defines no task"
    for function, task in found.items():
        assert task.name == f"consistency.tasks.{function}"
        assert task.name in app.tasks


def test_every_task_of_the_beat_schedule_is_registered():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
