from uuid import uuid4

import pytest
from django.contrib.auth.models import Permission

from opsdash.celery import app
from tests.factories import make_therapist
from tests.worker import delete_queue


def _operator(django_user_model, username):
    user = django_user_model.objects.create_user(username, password="correct horse battery")
    user.user_permissions.add(Permission.objects.get(codename="run_jobs"))
    return user


@pytest.fixture
def alice(django_user_model):
    """An operator who may run jobs."""
    return _operator(django_user_model, "alice")


@pytest.fixture
def bob(django_user_model):
    """Another operator."""
    return _operator(django_user_model, "bob")


@pytest.fixture
def root(django_user_model):
    """A superuser."""
    return django_user_model.objects.create_superuser("root", password="correct horse battery")


def queue_length(name):
    with app.connection_for_write() as connection:
        return connection.default_channel.client.llen(name)


@pytest.fixture
def task_queue(settings):
    """A Redis queue of this test's own: what the jobs queue, no worker consumes; deleted after."""
    name = f"opsdash-test-{uuid4().hex[:12]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    yield name
    delete_queue(name)


@pytest.fixture
def name_drifts():
    """Seven therapists whose user name differs from the enrollment's, so every chunk writes users."""
    return [
        make_therapist(user={"full_name": f"Nick {n}"}, enrollment={"full_name": f"Legal {n}"})[0] for n in range(7)
    ]
