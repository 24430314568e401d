"""The layout of the design card exists, and the README names both commands."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_design_card_layout_exists() -> None:
    for path in [
        "manage.py",
        "aaiti/settings.py",
        "aaiti/urls.py",
        "aaiti/asgi.py",
        "aaiti/celery.py",
        "templates/base.html",
        "static/css/aaiti.css",
        "requirements/base.txt",
        "requirements/ml.txt",
        "requirements/dev.txt",
        "requirements/constraints.txt",
        "compose.yaml",
        "Dockerfile",
        "Makefile",
        "Procfile",
        "pyproject.toml",
        "README.md",
        ".ci/run",
    ]:
        assert (ROOT / path).exists(), path
    for app in [
        "accounts",
        "market",
        "mlmodels",
        "bots",
        "backtests",
        "audit",
        "system",
    ]:
        assert (ROOT / "apps" / app / "apps.py").exists(), app


def test_readme_starts_with_the_run_and_test_commands() -> None:
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make run" in head and "make test" in head


def test_procfile_processes_use_real_entry_points() -> None:
    lines = (ROOT / "Procfile").read_text().splitlines()
    names = {line.split(":", 1)[0] for line in lines if line.strip()}
    assert {"web", "worker", "beat"} <= names
    assert "aaiti.asgi:application" in (ROOT / "Procfile").read_text()
