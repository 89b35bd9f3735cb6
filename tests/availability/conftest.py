import pytest
from django.db import connections

from opsdash.celery import app
from tests.proxy import Proxy


@pytest.fixture
def platform_proxy(committed_platform):
    """Put a proxy between opsdash and the platform database; the test decides when it fails."""
    settings_dict = connections["platform"].settings_dict
    original = settings_dict["HOST"], settings_dict["PORT"]
    proxy = Proxy(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
    connections["platform"].close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
    yield proxy
    connections["platform"].close()
    settings_dict["HOST"], settings_dict["PORT"] = original
    proxy.stop()


@pytest.fixture
def redis_proxy(isolated_queue, committed_platform):
    """Put a proxy between opsdash and Redis for the tasks it queues; the test decides when it fails."""
    from kombu.utils.url import url_to_parts

    names = ("broker_url", "broker_write_url", "broker_read_url")
    original = {name: app.conf[name] for name in names}
    parts = url_to_parts(original["broker_url"])
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    for name in names:
        app.conf[name] = f"redis://127.0.0.1:{proxy.port}/{parts.path or 0}"
    app.pool.force_close_all()
    yield proxy
    app.conf.update(original)
    app.pool.force_close_all()
    proxy.stop()
