"""The local defaults of the service URLs, shared by settings.py and the run command (Django-free)."""

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/opsdash"
PLATFORM_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/opsdash_platform"
CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
