"""compose.yaml and the Dockerfile refer only to things the project has."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_every_compose_command_exists() -> None:
    from django.core.management import get_commands

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    commands = get_commands()
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or service.get("image", "").startswith("redis"):
            continue
        program = command[0]
        if program == "python":
            assert command[1] == "manage.py" and command[2] in commands, (name, command)
        else:
            assert (BIN / program).exists() or shutil.which(program), (name, program)
        if program == "celery" or program == "daphne":
            assert "aaiti" in " ".join(command), name
        for option in command:
            if option.endswith(".py"):
                assert (ROOT / option).exists(), (name, option)


def test_dockerfile_copies_and_runs_what_exists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for line in re.findall(r"^COPY .*$", text, flags=re.MULTILINE):
        if "--from=" in line:
            continue  # copied from an earlier build stage
        source = [w for w in line.split()[1:] if not w.startswith("--")][0]
        if source != ".":
            assert (ROOT / source).exists(), source
    for req in re.findall(r"requirements/\S+\.txt", text):
        assert (ROOT / req).exists(), req
    assert "USER aaiti" in text and "HEALTHCHECK" in text and "/api/health" in text
    assert "collectstatic" in text


def test_procfile_and_compose_run_the_same_processes() -> None:
    procfile = {
        line.split(":", 1)[0]
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip()
    }
    compose = set(yaml.safe_load((ROOT / "compose.yaml").read_text())["services"])
    assert procfile <= compose
