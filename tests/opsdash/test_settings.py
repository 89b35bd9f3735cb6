"""Settings come from the environment, each variable documented, bad values refused."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_in_a_fresh_process(*names, **variables):
    """Import the settings with these variables in a new interpreter; return the named settings."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="opsdash.settings", **variables)
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    return result


def environment_variables_of_settings():
    source = (ROOT / "opsdash" / "settings.py").read_text()
    return set(re.findall(r"""(?:env_\w+\(|os\.environ\.get\()\s*"([A-Z_]+)\"""", source))


def test_every_environment_variable_is_in_env_example_and_the_readme():
    variables = environment_variables_of_settings()
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()

    assert {"DATABASE_URL", "PLATFORM_DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY"} <= variables
    assert sorted(v for v in variables if not re.search(rf"^{v}=", example, re.M)) == []
    assert sorted(v for v in variables if f"| `{v}` |" not in readme) == []


def test_empty_variable_means_the_default():
    result = settings_in_a_fresh_process(
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "TIME_ZONE",
        CELERY_BROKER_URL="",
        CELERY_RESULT_BACKEND="",
        OPSDASH_TIME_ZONE="",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/0",
        "TIME_ZONE": "UTC",
    }


def test_debug_is_off_unless_asked():
    result = settings_in_a_fresh_process("DEBUG", DJANGO_DEBUG="")
    assert json.loads(result.stdout) == {"DEBUG": False}


def test_database_url_that_is_not_postgres_stops_the_start():
    result = settings_in_a_fresh_process("DATABASES", DATABASE_URL="mysql://root@localhost/opsdash")
    assert result.returncode != 0
    assert "DATABASE_URL must be a postgres:// URL" in result.stderr


def test_malformed_number_names_its_variable():
    result = settings_in_a_fresh_process("OPSDASH_REPAIR_CHUNK_SIZE", OPSDASH_REPAIR_CHUNK_SIZE="lots")
    assert result.returncode != 0
    assert "OPSDASH_REPAIR_CHUNK_SIZE must be an integer, not 'lots'" in result.stderr
