"""Start the real app (daphne, optionally the feed) on a throwaway SQLite file with the
sample data loaded, for benchmarks that measure it over the network (loopback only)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(redis_db: int = 11) -> dict[str, str]:
    var = Path(tempfile.mkdtemp(prefix="aaiti-bench-"))
    env = dict(os.environ)
    env.update(
        {
            "AAITI_VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
            "REDIS_URL": env.get("REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}"),
            "CACHE_KEY_PREFIX": f"bench-{os.getpid()}",
            "CHANNELS_PREFIX": f"bench-{os.getpid()}",
            "DEMO_USER_EMAIL": "bench@example.com",
            "DEMO_USER_PASSWORD": "bench-password-123",
            "RATELIMIT_ENABLE": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


@contextmanager
def serve(env: dict[str, str], *, feed: bool = False) -> Iterator[str]:
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    # The account without the demo's bot and training jobs: they would trade on
    # the benchmark's ticks and queue work no worker takes.
    subprocess.run(
        [*manage, "bootstrap", "--no-demo"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    procs = [
        subprocess.Popen(
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
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    if feed:
        procs.append(
            subprocess.Popen(
                [*manage, "run_feed"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/health", timeout=5)  # noqa: S310 - the benchmark server on 127.0.0.1
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
