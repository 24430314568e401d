"""compose.yaml and the Dockerfile refer only to things the project has."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_every_compose_command_exists() -> None:
    from django.core.management import get_commands

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    commands = get_commands()
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or "build" not in service:
            continue  # third-party images (redis, postgres, prometheus, grafana)
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


# --- compose profiles, Prometheus and Grafana --------------------------------------
# No Docker engine runs where these tests run, so `docker compose config` and a real
# scrape cannot be tried here: the files are checked against each other and against
# the app instead (paths, names, ports, tokens, and every metric a panel queries).

APP_SERVICES = ("migrate", "web", "worker", "beat", "feed")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts of a service: container path -> repository path."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = source
    return mounts


def test_every_file_and_name_compose_refers_to_exists() -> None:
    spec = compose()
    services, volumes = spec["services"], spec["volumes"]
    secrets = spec.get("secrets", {})
    for name, service in services.items():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").exists(), name
        else:  # a third-party image, pinned to a version
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), (name, image)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in volumes, (name, source)
        for secret in service.get("secrets", []):
            assert secret in secrets, (name, secret)
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
        for env_file in service.get("env_file", []):
            path = env_file["path"] if isinstance(env_file, dict) else env_file
            required = (
                env_file.get("required", True) if isinstance(env_file, dict) else True
            )
            assert not required or (ROOT / path).exists(), (name, path)


def test_the_postgres_profile_switches_the_database() -> None:
    import dj_database_url

    spec = compose()
    postgres = spec["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"]
    assert "postgres-data" in postgres["volumes"][0]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    env = postgres["environment"]
    for name in APP_SERVICES:
        service = spec["services"][name]
        assert "profiles" not in service, name
        dep = service["depends_on"]["postgres"]
        # Waits for a healthy server when the profile runs one, ignores it otherwise.
        assert dep == {"condition": "service_healthy", "required": False}, name
        assert service["environment"]["DATABASE_URL"].startswith(
            "${DATABASE_URL:-sqlite"
        )
    # The URL the header comment tells operators to set reaches this server.
    header = (ROOT / "compose.yaml").read_text().split("services:")[0]
    url = re.search(r"DATABASE_URL=(postgres://\S+)", header).group(1)
    parsed = dj_database_url.parse(url.replace("${POSTGRES_PASSWORD}", "pw"))
    assert parsed["ENGINE"] == "django.db.backends.postgresql"
    assert (parsed["HOST"], parsed["PORT"]) == ("postgres", 5432)
    assert (parsed["NAME"], parsed["USER"]) == (
        env["POSTGRES_DB"],
        env["POSTGRES_USER"],
    )
    readme = (ROOT / "README.md").read_text()
    assert "--profile postgres" in readme and "@postgres:5432/aaiti" in readme


def test_prometheus_scrapes_the_apps_metrics_path_with_the_token() -> None:
    from django.urls import reverse

    spec = compose()
    prometheus = spec["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    config_flag = next(
        a for a in prometheus["command"] if a.startswith("--config.file=")
    )
    mounts = _mounts(prometheus)
    source = mounts[config_flag.split("=", 1)[1]]
    config = yaml.safe_load((ROOT / source).read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == reverse("metrics")
    auth = job["authorization"]
    assert auth["type"] == "Bearer"
    (secret,) = prometheus["secrets"]
    assert auth["credentials_file"] == f"/run/secrets/{secret}"
    assert spec["secrets"][secret] == {"environment": "METRICS_TOKEN"}
    # The app gets the same token, and answers to the host name scraped.
    web = spec["services"]["web"]
    assert web["environment"]["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"
    (target,) = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host == "web" and port == web["command"][web["command"].index("-p") + 1]
    assert web["environment"]["ALLOWED_HOSTS"].endswith(",web")


def _promql_metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions,
    keywords, label names (in by/without/on/ignoring lists or {matchers}),
    durations or strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text
    )
    keywords = {"by", "without", "on", "ignoring", "bool", "offset", "and", "or"}
    keywords |= {"unless", "group_left", "group_right", "inf", "nan"}
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word, rest = match.group(0), text[match.end() :].lstrip()
        if rest.startswith("(") or word.lower() in keywords:
            continue  # a function or aggregation, or a keyword
        if text[: match.start()].rstrip()[-1:].isdigit():
            continue  # a number's exponent or unit
        names.add(word)
    return names


def test_the_promql_reader_finds_metric_names() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le, outcome) (rate(a_bucket{x="y(z)"}[5m])))'
        " / on (job) group_left b_total + sum(c) without (d)"
    )
    assert _promql_metric_names(expr) == {"a_bucket", "b_total", "c"}


def _exported_names() -> set[str]:
    from apps.system.metrics import REGISTRY

    suffixes = {
        "counter": ["_total", "_created"],
        "histogram": ["_bucket", "_sum", "_count", "_created"],
        "gauge": [""],
    }
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name + s for s in suffixes[family.type]}
    return names


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # inside collapsed rows
    return panels


@pytest.mark.django_db
def test_every_metric_the_dashboard_queries_is_exported() -> None:
    spec = compose()
    grafana = spec["services"]["grafana"]
    assert grafana["profiles"] == ["monitoring"]
    mounts = _mounts(grafana)
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    (datasource,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in spec["services"]["prometheus"]["ports"]
    (provider,) = yaml.safe_load(
        (provisioning / "dashboards" / "aaiti.yml").read_text()
    )["providers"]
    dashboards = ROOT / mounts[provider["options"]["path"]]
    files = sorted(dashboards.glob("*.json"))
    assert files

    exported = _exported_names()
    assert "aaiti_bot_equity" in exported  # the database-backed families are there
    queried: set[str] = set()
    for file in files:
        dashboard = json.loads(file.read_text())
        for panel in _panels(dashboard):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                names = _promql_metric_names(target["expr"])
                assert names, (panel["title"], target["expr"])
                unknown = names - exported
                assert not unknown, (file.name, panel["title"], unknown)
                queried |= names
    # The dashboard shows each figure the issue asks for.
    for wanted in [
        "aaiti_http_requests_total",
        "aaiti_http_request_duration_seconds_bucket",
        "aaiti_http_errors_total",
        "aaiti_feed_ticks_recorded",
        "aaiti_feed_last_tick_age_seconds",
        "aaiti_feed_broadcast_latency_seconds_bucket",
        "aaiti_celery_queue_depth",
        "aaiti_bot_orders",
        "aaiti_bot_fills",
        "aaiti_bot_equity",
        "aaiti_backtest_duration_seconds_bucket",
        "aaiti_training_duration_seconds_bucket",
    ]:
        assert wanted in queried, wanted
