"""
Settings for opsdash, read from the environment.

Every variable is listed in README.md and .env.example. Local defaults work on a
development machine with PostgreSQL and Redis on localhost; production sets them all.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from opsdash import defaults, timeouts

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default):
    """Return a variable's value; unset or empty means the default (as in .env.example)."""
    return os.environ.get(name) or default


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_database(name, default):
    url = os.environ.get(name) or default
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj_database_url raises several kinds for a bad URL
        raise ImproperlyConfigured(f"{name} is not a database URL: {exc}") from None
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"{name} must be a postgres:// URL")
    return config


# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)

ALLOWED_HOSTS = [h.strip() for h in env_str("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env_str("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_tables2",
    "django_filters",
    "django_htmx",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "consistency",
    "interventions",
    "availability",
    "monitoring",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A request that meets an outage its view did not expect gets a 503 page, never a 500.
    "availability.middleware.OutageMiddleware",
    # Every page and fragment: Cache-Control: private, no-store.
    "opsdash.middleware.NoStoreMiddleware",
    # NUL bytes and oversized values answer 400; paging and id parameters are sanitised.
    "opsdash.middleware.QueryParameterMiddleware",
    "opsdash.middleware.SessionActivityMiddleware",
    # Last, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "opsdash.urls"
WSGI_APPLICATION = "opsdash.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The banner of every page: which service is down, and since when.
                "availability.context_processors.outages",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Databases
# ------------------------------------------------------------------------------
# "default" is opsdash's own database (auth, sessions, job runs, snapshots, audit).
# "platform" is the marketplace's database: read and repaired, never migrated
# (opsdash.routers.PlatformRouter).
DATABASES = {
    "default": env_database("DATABASE_URL", defaults.DATABASE_URL),
    "platform": env_database("PLATFORM_DATABASE_URL", defaults.PLATFORM_DATABASE_URL),
}
DATABASE_ROUTERS = ["opsdash.routers.PlatformRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------
# Bounded waits: database and Redis timeouts, outages
# ------------------------------------------------------------------------------
# Seconds to wait for a PostgreSQL connection, handshake included (libpq connect_timeout).
OPSDASH_DB_CONNECT_TIMEOUT = env_int("OPSDASH_DB_CONNECT_TIMEOUT", 3)
# Longest statement of a web request, and of a worker's job or a command, in seconds.
OPSDASH_WEB_STATEMENT_TIMEOUT = env_int("OPSDASH_WEB_STATEMENT_TIMEOUT", 15)
OPSDASH_JOB_STATEMENT_TIMEOUT = env_int("OPSDASH_JOB_STATEMENT_TIMEOUT", 25 * 60)
# Longest wait of a job for a row or table lock the platform holds; a repair chunk
# that gives up is retried (consistency.jobs.handling.RETRYABLE) instead of queueing the
# platform's own writes behind it.
OPSDASH_JOB_LOCK_TIMEOUT = env_int("OPSDASH_JOB_LOCK_TIMEOUT", 10)
# Seconds to connect to Redis and to wait for each of its answers.
OPSDASH_REDIS_TIMEOUT = env_int("OPSDASH_REDIS_TIMEOUT", 3)
# While a service is known to be down, pages skip it for this many seconds rather
# than wait for it again on every request (availability.guard).
OPSDASH_OUTAGE_RECHECK_SECONDS = env_int("OPSDASH_OUTAGE_RECHECK_SECONDS", 15)
for _name in (
    "OPSDASH_DB_CONNECT_TIMEOUT",
    "OPSDASH_WEB_STATEMENT_TIMEOUT",
    "OPSDASH_JOB_STATEMENT_TIMEOUT",
    "OPSDASH_JOB_LOCK_TIMEOUT",
    "OPSDASH_REDIS_TIMEOUT",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1 (seconds)")
# Web processes get the short statement timeout; the Celery worker and the long
# commands switch to the job's (opsdash.timeouts.use_job_timeouts).
for _database in DATABASES.values():
    _database["OPTIONS"] = {
        **_database.get("OPTIONS", {}),
        **timeouts.database_options(OPSDASH_DB_CONNECT_TIMEOUT, OPSDASH_WEB_STATEMENT_TIMEOUT),
    }
# A platform connection is opened per request and per task: a persistent one would be
# health-checked with a query that waits forever on a server that accepts and never
# answers, where opening a connection is bounded by the connect timeout.
DATABASES["platform"]["CONN_MAX_AGE"] = 0
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-connection-timeout
CELERY_BROKER_CONNECTION_TIMEOUT = OPSDASH_REDIS_TIMEOUT
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#redis-socket-timeout
CELERY_REDIS_SOCKET_TIMEOUT = OPSDASH_REDIS_TIMEOUT
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = OPSDASH_REDIS_TIMEOUT
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-publish-retry-policy
# One retry of a publish at once: with the socket timeouts a queueing request waits
# at most about twice OPSDASH_REDIS_TIMEOUT.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

# ------------------------------------------------------------------------------
# Auth
# ------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# ------------------------------------------------------------------------------
# Security
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# With the production variables of README.md ("Production"), `manage.py check --deploy`
# reports nothing (tests/opsdash/test_security_settings.py).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # No public fallback: a known key would let anyone forge sessions. The tests
        # (pyproject.toml) and bin/opsdash-run (a key kept under .data/) set one.
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required unless DJANGO_DEBUG is true: set it to a long random value, e.g. "
            'python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    SECRET_KEY = "opsdash-insecure-debug-only-key"

# Cookies over HTTPS only, unless debugging or told otherwise (a plain-HTTP development server).
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# Behind a TLS-terminating proxy: the header it sets to "https", e.g. HTTP_X_FORWARDED_PROTO.
# Only set it when the proxy always sets or strips that header.
_proxy_ssl_header = env_str("DJANGO_SECURE_PROXY_SSL_HEADER", "")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None

# Sessions end after OPSDASH_SESSION_IDLE_MINUTES without a page view. Live polls
# neither write nor extend the session (opsdash.middleware.SessionActivityMiddleware),
# so an open tab that only polls signs out.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_AGE = env_int("OPSDASH_SESSION_IDLE_MINUTES", 8 * 60) * 60
if SESSION_COOKIE_AGE < 60:
    raise ImproperlyConfigured("OPSDASH_SESSION_IDLE_MINUTES must be at least 1")

# Sign-in throttling by django-axes: OPSDASH_SIGNIN_FAILURE_LIMIT wrong passwords for one
# user name from one address lock that pair out for OPSDASH_SIGNIN_COOLOFF_MINUTES;
# `python manage.py axes_reset` (or axes_reset_username NAME) lifts it at once.
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("OPSDASH_SIGNIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("OPSDASH_SIGNIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# No start-up banner on every manage.py command; failures and lockouts are still logged.
AXES_VERBOSE = False

# ------------------------------------------------------------------------------
# Internationalisation
# ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("OPSDASH_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

# ------------------------------------------------------------------------------
# Static files (served by WhiteNoise; every script is vendored under static/)
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files browsers ask for at the site's root (/favicon.ico), served there by WhiteNoise.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

# ------------------------------------------------------------------------------
# Celery
# ------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-url
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", defaults.CELERY_BROKER_URL)
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-backend
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TIMEZONE = TIME_ZONE
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-acks-late
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-prefetch-multiplier
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish to a Redis that is down fails fast instead of hanging the request.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    # Bounded waits: see "Bounded waits" above.
    "socket_timeout": OPSDASH_REDIS_TIMEOUT,
    "socket_connect_timeout": OPSDASH_REDIS_TIMEOUT,
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-default-queue
# Deployments (or test runs) sharing one Redis keep apart by queue name.
CELERY_TASK_DEFAULT_QUEUE = env_str("OPSDASH_CELERY_QUEUE", "celery")
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-time-limit
# A task past its soft limit rolls its transaction back and records the failure; the
# hard limit kills it a minute later if it could not stop. Starting or closing a
# repair-all computes the metrics of every therapist (about a minute at 1,000,000).
CELERY_TASK_SOFT_TIME_LIMIT = 30 * 60
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# https://docs.celeryq.dev/en/stable/userguide/tasks.html#annotations
CELERY_TASK_ANNOTATIONS = {
    # One chunk (OPSDASH_REPAIR_CHUNK_SIZE therapists) takes seconds; the limit stops a
    # chunk stuck behind a lock without holding up the whole job.
    "consistency.tasks.repair_chunk": {"soft_time_limit": 5 * 60, "time_limit": 6 * 60},
    # Runs every minute: a run must not outlast the next one.
    "consistency.tasks.end_stale_jobs": {"soft_time_limit": 40, "time_limit": 50},
    # Connection errors (database restarting, dropped connection, deadlock) are
    # retried up to max_retries times, after a delay doubling from
    # OPSDASH_TASK_RETRY_BACKOFF seconds up to OPSDASH_TASK_RETRY_BACKOFF_MAX.
    "*": {"max_retries": 5},
}
OPSDASH_TASK_RETRY_BACKOFF = 5
OPSDASH_TASK_RETRY_BACKOFF_MAX = 5 * 60

# ------------------------------------------------------------------------------
# Consistency
# ------------------------------------------------------------------------------
# Therapists per repair chunk: one UPDATE per table per chunk.
OPSDASH_REPAIR_CHUNK_SIZE = env_int("OPSDASH_REPAIR_CHUNK_SIZE", 5000)
# From this many users, and without the indexes manage.py platform_setup recommends, one
# therapist's other spellings and unlinked enrollments are read from opsdash's lookup
# (consistency.engine.email_keys) instead of by scanning users and enrollments.
OPSDASH_EMAIL_KEYS_MIN_USERS = env_int("OPSDASH_EMAIL_KEYS_MIN_USERS", 100_000)
# Minutes between metric snapshots taken by Celery beat.
OPSDASH_SNAPSHOT_MINUTES = env_int("OPSDASH_SNAPSHOT_MINUTES", 5)
if OPSDASH_SNAPSHOT_MINUTES < 1 or OPSDASH_REPAIR_CHUNK_SIZE < 1:
    raise ImproperlyConfigured("OPSDASH_SNAPSHOT_MINUTES and OPSDASH_REPAIR_CHUNK_SIZE must be at least 1")
# https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html#beat-entries
CELERY_BEAT_SCHEDULE = {
    "metrics-snapshot": {
        "task": "consistency.tasks.take_metrics_snapshot",
        "schedule": timedelta(minutes=OPSDASH_SNAPSHOT_MINUTES),
    },
    # Ends the jobs no worker will finish (README "Stale jobs"); a run still waiting in
    # the queue when the next is due is dropped.
    "stale-jobs": {
        "task": "consistency.tasks.end_stale_jobs",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
}
# A running job is stale once the step in hand has made no progress for its task's
# hard time limit plus this margin; a queued one, once it is this old and its task is
# in no queue and held by no worker.
OPSDASH_STALE_JOB_GRACE = timedelta(minutes=1)
# Seconds the stale-job check waits for the workers to say which tasks they hold.
OPSDASH_WORKER_INSPECT_TIMEOUT = 2.0
# Retention of the snapshot tables (consistency/reporting/retention.py, after each snapshot):
# attempts asked for more than this many days ago go; metric snapshots are all kept
# for a week, then the latest of each hour, none older than OPSDASH_SNAPSHOT_DAYS.
OPSDASH_SNAPSHOT_ATTEMPTS_DAYS = env_int("OPSDASH_SNAPSHOT_ATTEMPTS_DAYS", 7)
OPSDASH_SNAPSHOT_DAYS = env_int("OPSDASH_SNAPSHOT_DAYS", 90)
if OPSDASH_SNAPSHOT_ATTEMPTS_DAYS < 1 or OPSDASH_SNAPSHOT_DAYS < 1:
    raise ImproperlyConfigured("OPSDASH_SNAPSHOT_ATTEMPTS_DAYS and OPSDASH_SNAPSHOT_DAYS must be at least 1")
# The platform team's target for unresolved interventions.
OPSDASH_INTERVENTION_TARGET = env_int("OPSDASH_INTERVENTION_TARGET", 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("OPSDASH_LOG_LEVEL", "INFO")},
}

# ------------------------------------------------------------------------------
# Integrations: health, Prometheus metrics, the JSON API, alerts, digest, logs
# ------------------------------------------------------------------------------

# Milliseconds the workers have to answer Celery's ping; the answer is cached
# OPSDASH_WORKER_CACHE_SECONDS so the overview's polling and the scrapes stay cheap.
OPSDASH_WORKER_PING_TIMEOUT_MS = env_int("OPSDASH_WORKER_PING_TIMEOUT_MS", 1000)
OPSDASH_WORKER_CACHE_SECONDS = env_int("OPSDASH_WORKER_CACHE_SECONDS", 10)
# Seconds each dependency of /readyz (databases, Redis) has to answer.
OPSDASH_READY_TIMEOUT = env_int("OPSDASH_READY_TIMEOUT", 2)
# /metrics: a bearer token, or client addresses / networks allowed without one.
OPSDASH_METRICS_TOKEN = env_str("OPSDASH_METRICS_TOKEN", "")
OPSDASH_METRICS_ALLOWED_IPS = [a.strip() for a in env_str("OPSDASH_METRICS_ALLOWED_IPS", "").split(",") if a.strip()]
# Hour (0-23, OPSDASH_TIME_ZONE) of the daily digest; empty sends none.
OPSDASH_DIGEST_HOUR = env_str("OPSDASH_DIGEST_HOUR", "")
if OPSDASH_DIGEST_HOUR:
    OPSDASH_DIGEST_HOUR = env_int("OPSDASH_DIGEST_HOUR", 0)
    if not 0 <= OPSDASH_DIGEST_HOUR <= 23:
        raise ImproperlyConfigured("OPSDASH_DIGEST_HOUR must be an hour from 0 to 23")
    # https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html#crontab-schedules
    from celery.schedules import crontab

    CELERY_BEAT_SCHEDULE["daily-digest"] = {
        "task": "monitoring.tasks.send_daily_digest",
        "schedule": crontab(hour=OPSDASH_DIGEST_HOUR, minute=0),
    }
# Alerts: how often a failing destination is tried again, and after how long.
OPSDASH_ALERT_RETRIES = env_int("OPSDASH_ALERT_RETRIES", 5)
OPSDASH_ALERT_RETRY_SECONDS = env_int("OPSDASH_ALERT_RETRY_SECONDS", 30)
# Sender of alert and digest emails (Django's EMAIL_* settings choose the server).
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "opsdash@localhost")
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10

# https://www.django-rest-framework.org/api-guide/settings/
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "opsdash API",
    "DESCRIPTION": "Consistency metrics, therapists, interventions and jobs of opsdash.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-send-task-events
# Task events let Flower (optional, see README) show opsdash's tasks and arguments.
CELERY_WORKER_SEND_TASK_EVENTS = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-send-sent-event
CELERY_TASK_SEND_SENT_EVENT = True

# OPSDASH_LOG_FORMAT=json: one JSON object per log line (python-json-logger).
OPSDASH_LOG_FORMAT = env_str("OPSDASH_LOG_FORMAT", "text")
if OPSDASH_LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"OPSDASH_LOG_FORMAT must be text or json, not {OPSDASH_LOG_FORMAT!r}")
if OPSDASH_LOG_FORMAT == "json":
    LOGGING["formatters"] = {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    }
    LOGGING["handlers"]["console"]["formatter"] = "json"
    # https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-hijack-root-logger
    # The worker keeps the JSON handler instead of installing its own text one.
    CELERY_WORKER_HIJACK_ROOT_LOGGER = False
