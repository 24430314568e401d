"""End to end through a real Celery worker on real Redis: start_training enqueues
on the training queue, the worker trains, the model reaches "trained"."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SEED = """
import django
django.setup()
from datetime import UTC, datetime, timedelta
from apps.accounts.models import User
from apps.market.services import Bar, get_or_create_asset, upsert_candles
from apps.mlmodels.services import ModelSpec, create_model, start_training

user = User.objects.create_user(email="worker@example.com", password="x" * 12)
asset = get_or_create_asset(symbol="BTC-USD")
start = datetime(2019, 1, 1, tzinfo=UTC)
closes = [100 + 0.05 * i + (i % 24) * 0.2 for i in range(400)]
upsert_candles(asset=asset, timeframe="1h", bars=[
    Bar(start + timedelta(hours=i), c, c + 1, c - 1, c, 1.0) for i, c in enumerate(closes)
])
model = create_model(owner=user, spec=ModelSpec(
    name="arima via worker", algorithm="arima", symbol="BTC-USD", timeframe="1h",
    params={"p": 1, "d": 1, "q": 0}, horizon=12, folds=3, max_train_bars=300,
))
start_training(model=model, actor=user)
print(model.pk)
"""


@pytest.mark.integration
def test_training_through_a_real_worker(tmp_path: Path) -> None:
    db = tmp_path / "integration.sqlite3"
    env = {
        **os.environ,
        "AAITI_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{db}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
        "CACHE_KEY_PREFIX": f"it-{uuid.uuid4().hex[:8]}",
        "CHANNELS_PREFIX": f"it-{uuid.uuid4().hex[:8]}",
        "DJANGO_SETTINGS_MODULE": "aaiti.settings",
        "AAITI_TESTING": "",
    }
    env.pop("AAITI_TEST_DB_NAME", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "aaiti",
            "worker",
            "-Q",
            "training,default",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "-n",
            f"integration-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        seeded = subprocess.run(
            [sys.executable, "-c", SEED],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
            capture_output=True,
            text=True,
        )
        model_id = int(seeded.stdout.strip().splitlines()[-1])
        # Generous: a worker on a loaded 2-core machine can take a while to start.
        deadline = time.monotonic() + 180
        status = run_status = None
        while time.monotonic() < deadline:
            with sqlite3.connect(db) as conn:
                status = conn.execute(
                    "SELECT status FROM mlmodels_mlmodel WHERE id = ?", [model_id]
                ).fetchone()[0]
                run_status, error, sha, task_id = conn.execute(
                    "SELECT status, error, artefact_sha256, celery_task_id "
                    "FROM mlmodels_trainingrun WHERE model_id = ?",
                    [model_id],
                ).fetchone()
            if status in ("trained", "failed"):
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.5)
        assert status == "trained", (
            status,
            run_status,
            error,
            "still queued: is another worker consuming this Redis DB's queues?",
            (tmp_path / "worker.log").read_text()[-3000:],
        )
        assert run_status == "trained" and len(sha) == 64 and task_id
        assert list((tmp_path / "models").rglob("*.zip"))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
