"""Browser tests: Debian's chromium driven by Playwright against a real daphne
server, started here on a free port with its own SQLite file and cache prefix.

Chromium comes from the system (`apt-get install chromium`, done by .ci/run); no
browser is downloaded. Without it these tests fail with a clear message rather
than skip, so a CI machine that lacks it cannot pass by accident.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "var" / "e2e-screenshots"


def chromium_path() -> str:
    for candidate in [
        os.environ.get("AAITI_CHROMIUM", ""),
        "/usr/bin/chromium",
        shutil.which("chromium") or "",
        shutil.which("chromium-browser") or "",
    ]:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(
        "chromium not found: install Debian's chromium (apt-get install chromium) "
        "or set AAITI_CHROMIUM"
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    var = tmp_path_factory.mktemp("e2e-var")
    env = dict(os.environ)
    env.update(
        {
            "AAITI_VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{var / 'e2e.sqlite3'}",
            "CACHE_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}",
            "CHANNELS_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}",
            "AAITI_ENV": "development",
            "DEBUG": "false",
            "DEMO_USER_EMAIL": "",
            # Every browser flow signs up a fresh trader from 127.0.0.1: more than
            # the production 10 an hour (the limit itself is tested in tests/accounts).
            "RATELIMIT_SIGNUP_IP": "200/h",
            # Webhook flows deliver to a receiver on 127.0.0.1 over plain http.
            "WEBHOOK_ALLOW_HTTP": "true",
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "WEBHOOK_RETRY_DELAYS": "1,1,1,1",
        }
    )
    return env


@pytest.fixture(scope="session")
def live_url(server_env: dict[str, str]) -> Iterator[str]:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=server_env,
        check=True,
        timeout=300,
    )
    # The sample candles, as `make run` loads them on first start.
    subprocess.run(
        [sys.executable, "manage.py", "bootstrap"],
        cwd=ROOT,
        env=server_env,
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    log = open(Path(server_env["AAITI_VAR_DIR"]) / "daphne.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "aaiti.asgi:application",
        ],
        cwd=ROOT,
        env=server_env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=5):  # noqa: S310 - the test server on 127.0.0.1
                break
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"daphne did not start: {exc}; see {log.name}"
                ) from exc
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any],
) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "args": CHROMIUM_FLAGS,
        "headless": True,
    }


@pytest.fixture
def screenshot(page: Any) -> Any:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def feed(
    live_url: str, server_env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """The replay feed of the e2e server, as `make run` starts it."""
    log = open(Path(server_env["AAITI_VAR_DIR"]) / "feed.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_feed"],
        cwd=ROOT,
        env=server_env,
        stdout=log,
        stderr=log,
    )
    yield proc
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


@pytest.fixture(scope="session")
def worker(
    live_url: str, server_env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker of the e2e server (all queues), as `make run` starts it."""
    log = open(Path(server_env["AAITI_VAR_DIR"]) / "worker.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "aaiti",
            "worker",
            "-Q",
            "default,training,backtests",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=server_env,
        stdout=log,
        stderr=log,
    )
    yield proc
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
