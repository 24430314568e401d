"""Settings come from the environment with safe defaults; production is strict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(
    code: str, tmp_path: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "AAITI_ENV", "DATABASE_URL"}
    }
    base.update(
        {
            "AAITI_VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SETTINGS_MODULE": "aaiti.settings",
        },
        **env,
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_development_generates_a_secret_key_once_and_keeps_it(tmp_path: Path) -> None:
    code = (
        "from django.conf import settings; print(settings.SECRET_KEY, settings.DEBUG)"
    )
    first = run_python(code, tmp_path)
    second = run_python(code, tmp_path)
    assert first.returncode == 0, first.stderr
    key, debug = first.stdout.split()
    assert len(key) >= 50 and debug == "False"
    assert second.stdout == first.stdout
    stored = tmp_path / "var" / "secret_key"
    assert stored.read_text().strip() == key
    assert stored.stat().st_mode & 0o777 == 0o600


def test_defaults_are_sqlite_under_var_and_local_hosts(tmp_path: Path) -> None:
    code = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['ENGINE'], d['NAME'], ','.join(settings.ALLOWED_HOSTS))"
    )
    out = run_python(code, tmp_path)
    engine, name, hosts = out.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "var" / "aaiti.sqlite3")
    assert hosts == "127.0.0.1,localhost"


def test_database_url_switches_to_postgresql(tmp_path: Path) -> None:
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    out = run_python(code, tmp_path, DATABASE_URL="postgres://u:p@db:5432/aaiti")
    assert out.stdout.strip() == "django.db.backends.postgresql"


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    out = run_python(
        "import django; django.setup()",
        tmp_path,
        AAITI_ENV="production",
        ALLOWED_HOSTS="aaiti.example.com",
    )
    assert out.returncode != 0
    assert "SECRET_KEY must be set" in out.stderr


def test_bad_boolean_is_a_clear_error(tmp_path: Path) -> None:
    out = run_python("import django; django.setup()", tmp_path, DEBUG="maybe")
    assert out.returncode != 0
    assert "DEBUG must be true or false" in out.stderr


def test_check_deploy_reports_nothing_in_production(tmp_path: Path) -> None:
    env = {
        "AAITI_ENV": "production",
        "SECRET_KEY": "x" * 20 + "-Production-Secret-Key-0123456789abcdefghij",
        "ALLOWED_HOSTS": "aaiti.example.com",
    }
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL"}}
    base.update(env, AAITI_VAR_DIR=str(tmp_path / "var"))
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_production_logs_are_json_lines(tmp_path: Path) -> None:
    code = (
        "import logging, django; django.setup(); "
        "logging.getLogger('aaiti.request').info('GET /x 200', "
        "extra={'method': 'GET', 'path': '/x', 'status': 200, 'request_id': 'abc'})"
    )
    out = run_python(
        code,
        tmp_path,
        AAITI_ENV="production",
        SECRET_KEY="y" * 60,
        ALLOWED_HOSTS="aaiti.example.com",
    )
    assert out.returncode == 0, out.stderr
    import json

    line = json.loads(out.stderr.strip().splitlines()[-1])
    assert line["level"] == "INFO" and line["logger"] == "aaiti.request"
    assert (
        line["path"] == "/x" and line["status"] == 200 and line["request_id"] == "abc"
    )
