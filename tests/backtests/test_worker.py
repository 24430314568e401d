"""End to end through a real Celery worker on real Redis: a backtest and a sweep
(fanned out as a group) created through the services complete.

The worker is another process, so the data live in a temporary SQLite file (the
test database is in memory) that a subprocess migrates and fills first.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

SETUP = """
import json
from apps.accounts.models import User
from apps.backtests import services
from apps.backtests.services import JobRequest
from apps.market.services import import_candles
from django.db import transaction
with open("data/market/bitfinex-1d-btc-usd.csv", "rb") as fh:
    import_candles(fileobj=fh, symbol="BTC-USD", timeframe="1d")
user = User.objects.create_user(email="worker@example.com", password="x-worker-pass-1")
req = JobRequest(symbol="BTC-USD", timeframe="1d", strategy="sma_cross",
                 params={"fast": 10, "slow": 30})
with transaction.atomic():
    backtest = services.create_backtest(owner=user, req=req)
    sweep = services.create_sweep(owner=user, req=req,
                                  grid={"fast": "5:30:5", "slow": "35:80:5"})
print(json.dumps({"backtest": backtest.pk, "sweep": sweep.pk,
                  "chunks": sweep.chunks_total}))
"""


def _status(db: Path, table: str, pk: int) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            f"SELECT status, error FROM backtests_{table} WHERE id = ?",  # noqa: S608 - table name a literal of this test, id bound
            (pk,),
        ).fetchone()
    return row[0], row[1]


def test_a_worker_runs_a_backtest_and_a_sweep_group(tmp_path: Path) -> None:
    db = tmp_path / "worker.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "AAITI_VAR_DIR": str(tmp_path),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
    }
    env.pop("AAITI_TESTING", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    created = subprocess.run(
        [*manage, "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    ids = json.loads(created.stdout.strip().splitlines()[-1])
    assert ids["chunks"] >= 2  # a real group of several tasks
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "aaiti",
            "worker",
            "-Q",
            "backtests,default",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            states = (
                _status(db, "backtest", ids["backtest"]),
                _status(db, "sweep", ids["sweep"]),
            )
            if all(s in ("succeeded", "failed") for s, _ in states):
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.3)
        assert states[0] == ("succeeded", ""), (tmp_path / "worker.log").read_text()
        assert states[1] == ("succeeded", ""), (tmp_path / "worker.log").read_text()
        with sqlite3.connect(db) as conn:
            results = conn.execute(
                "SELECT results FROM backtests_sweep WHERE id = ?", (ids["sweep"],)
            ).fetchone()[0]
        assert len(json.loads(results)) == 60
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
