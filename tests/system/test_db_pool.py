"""Django's connection pool under PostgreSQL: on by default, sized or turned off by
the environment, never on SQLite; connections are lent and given back, under the
ASGI handler and in a prefork Celery worker. The last three tests run in the
PostgreSQL parity run (`DATABASE_URL=postgres://... --create-db`)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.system.test_settings_module import ROOT, run_python

POOL = (
    "from django.conf import settings; d = settings.DATABASES['default']; "
    "import json; print(json.dumps([d.get('OPTIONS', {}).get('pool'), d.get('CONN_HEALTH_CHECKS')]))"
)
PG = "postgres://aaiti:pw@db.example:5432/aaiti"
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="runs in the PostgreSQL parity run"
)


def settings_of(tmp_path: Path, **env: str) -> Any:
    done = run_python(POOL, tmp_path, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_pool_is_on_for_postgresql_sized_by_the_environment(tmp_path: Path) -> None:
    pool, checks = settings_of(tmp_path, DATABASE_URL=PG)
    assert pool == {"min_size": 1, "max_size": 10, "timeout": 30} and checks is True
    pool, _ = settings_of(
        tmp_path,
        DATABASE_URL=PG,
        DB_POOL_MAX_SIZE="25",
        DB_POOL_MIN_SIZE="4",
        DB_POOL_TIMEOUT="5",
    )
    assert pool == {"min_size": 4, "max_size": 25, "timeout": 5}
    assert settings_of(tmp_path, DATABASE_URL=PG, DB_POOL_MAX_SIZE="0")[0] is None
    assert settings_of(tmp_path)[0] is None  # SQLite: no pool
    bad = run_python(POOL, tmp_path, DATABASE_URL=PG, DB_POOL_MIN_SIZE="11")
    assert bad.returncode != 0 and "DB_POOL_MIN_SIZE" in bad.stderr


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_closed_connections_go_back_to_the_pool_and_are_lent_again() -> None:
    from psycopg_pool import ConnectionPool

    pool = connection.pool
    assert isinstance(pool, ConnectionPool)
    pids = set()
    for _ in range(10):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.add(cursor.fetchone()[0])
        connection.close()  # what Django does at the end of every request
    opened = pool.get_stats().get("connections_num", 0)
    # Ten borrowings, served by the pool's few server sessions, none opened anew.
    assert len(pids) <= pool.get_stats()["pool_size"] <= pool.max_size
    assert opened <= pool.max_size


def database_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment of a subprocess on this run's PostgreSQL test database."""
    import os

    db = connection.settings_dict
    url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@"
        f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    return {
        **os.environ,
        "DATABASE_URL": url,
        "AAITI_TESTING": "1",
        "AAITI_VAR_DIR": str(tmp_path),
        **env,
    }


def server_sessions(application: str) -> int:
    """Sessions on this test database opened by a subprocess that named itself
    ``application`` (libpq's PGAPPNAME)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [application],
        )
        return cursor.fetchone()[0]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_daphne_requests_borrow_from_a_bounded_pool(tmp_path: Path) -> None:
    """Under daphne each request runs its sync code in a thread, and gives its
    connection back when it ends. 30 concurrent requests, a pool of at most 3:
    every request reaches the database, and at most 3 server sessions exist, kept
    open between requests."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.integration.conftest import start_web, stop_process

    spawned: list[subprocess.Popen[bytes]] = []
    env = database_env(
        tmp_path, DB_POOL_MAX_SIZE="3", DB_POOL_MIN_SIZE="1", PGAPPNAME="aaiti-web"
    )
    try:
        _, base = start_web(env, tmp_path / "web.log", spawned=spawned)

        def get(_: int) -> Any:
            return httpx.get(f"{base}/api/health", timeout=60).json()

        with ThreadPoolExecutor(10) as pool:
            bodies = list(pool.map(get, range(30)))
        statuses = {b["checks"]["database"]["status"] for b in bodies}
        assert statuses == {"ok"}, bodies[0]
        assert 1 <= server_sessions("aaiti-web") <= 3
    finally:
        for process in spawned:
            stop_process(process)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_prefork_celery_worker_runs_jobs_on_the_pool(
    alice: Any, tmp_path: Path
) -> None:
    """Celery's Django fixup closes a prefork child's pool around each task, so a
    forked child never uses its parent's sockets; the jobs still complete."""
    import sys

    from apps.backtests import services
    from apps.backtests.models import Backtest
    from apps.backtests.services import JobRequest
    from tests.backtests.conftest import make_asset, wave

    make_asset("BTC-USD", wave(300))
    ids = [
        services.create_backtest(
            owner=alice,
            req=JobRequest(
                symbol="BTC-USD",
                timeframe="1h",
                strategy="sma_cross",
                params={"fast": fast, "slow": 20},
            ),
            enqueue=False,
        ).pk
        for fast in (3, 5, 8)
    ]
    env = database_env(tmp_path, DB_POOL_MAX_SIZE="2")
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "aaiti",
            "worker",
            "-Q",
            "backtests",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "-n",
            "pooltest@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        from apps.backtests.tasks import run_backtest_task

        for pk in ids:
            run_backtest_task.delay(pk)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            states = set(Backtest.objects.values_list("status", flat=True))
            if states == {"succeeded"} or "failed" in states:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    states = list(Backtest.objects.values_list("status", "error"))
    assert states == [("succeeded", "")] * 3, (states, log.read_text()[-3000:])
