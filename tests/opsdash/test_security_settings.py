"""Production settings: no public key, HTTPS settings from the environment, a clean check --deploy."""

import os
import subprocess
import sys

from tests.opsdash.test_settings import ROOT, settings_in_a_fresh_process

# The production variables README.md documents ("Production"), with a real-looking key.
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "vJ3u0yq8S2kd7ZpX4wLr9TnBc6Hf1GmQe5AaRsDt8YhUi2Ko3Pl7Nz0Xb4Vc9Wm6",
    "DJANGO_ALLOWED_HOSTS": "ops.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://ops.example.com",
    "DJANGO_SECURE_COOKIES": "",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
}


def manage(*args, **variables):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="opsdash.settings", **variables)
    # The browser tests' Playwright needs this in the test process; a deployment never sets it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_missing_secret_key_stops_every_start_outside_debug():
    result = settings_in_a_fresh_process("SECRET_KEY", DJANGO_SECRET_KEY="", DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required unless DJANGO_DEBUG is true" in result.stderr


def test_debugging_starts_without_a_secret_key():
    result = settings_in_a_fresh_process("DEBUG", DJANGO_SECRET_KEY="", DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_cookies_are_https_only_unless_debugging_or_told_otherwise():
    production = settings_in_a_fresh_process("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", **PRODUCTION)
    assert production.stdout.strip() == '{"SESSION_COOKIE_SECURE": true, "CSRF_COOKIE_SECURE": true}'
    plain_http = settings_in_a_fresh_process(
        "SESSION_COOKIE_SECURE", **{**PRODUCTION, "DJANGO_SECURE_COOKIES": "false"}
    )
    assert plain_http.stdout.strip() == '{"SESSION_COOKIE_SECURE": false}'


def test_https_settings_come_from_the_environment():
    result = settings_in_a_fresh_process(
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
        "SESSION_COOKIE_AGE",
        OPSDASH_SESSION_IDLE_MINUTES="30",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        '{"SECURE_SSL_REDIRECT": true, "SECURE_HSTS_SECONDS": 31536000, '
        '"SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"], "SESSION_COOKIE_AGE": 1800}'
    )


def test_check_deploy_is_clean_with_the_documented_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_without_them():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_SECURE_COOKIES="false")
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr
