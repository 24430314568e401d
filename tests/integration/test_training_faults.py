"""A training run whose worker dies, through real processes: a Celery worker on
the training queue of the test's own redis-server, a temporary SQLite file
database with the BTC-USD 1h samples, ARIMA fitted by statsmodels for real.

* SIGKILL mid-training: the unacknowledged message comes back once its visibility
  timeout has passed, the redelivery takes the dead worker's claim over, and the
  run is trained exactly once (one artefact, one ``model.trained`` event).
* A run that kills every worker that takes it is failed after MAX_ATTEMPTS
  deliveries, like a backtest.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.mlmodels.services.training import MAX_ATTEMPTS

from .conftest import (
    PrivateRedis,
    audit_counts,
    base_env,
    create_trainings,
    query,
    runs,
    start_worker,
    stop_process,
    wait_for,
)
from .test_faults import FAST_RESTORE

pytestmark = pytest.mark.integration

FINAL = ("trained", "failed", "cancelled")


def _model_of(db: Path, run_id: int) -> int:
    return query(db, "SELECT model_id FROM mlmodels_trainingrun WHERE id = ?", run_id)[
        0
    ][0]


def test_sigkilled_worker_training_is_redelivered_and_trains_once(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    env = base_env(tmp_path, private_redis.url, db_file)
    (run_id,) = create_trainings(env, 1)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, name="doomed", queues="training", spawned=spawned)
    # Killed in the middle: past the first walk-forward fold, not while claiming.
    wait_for(
        lambda: (
            runs(db_file)[run_id][0] == "training"
            and runs(db_file)[run_id][3].startswith("fold ")
            and runs(db_file)[run_id][3] != "fold 1 of 8"
        ),
        120,
        "the training to be past its first fold",
        step=0.05,
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = time.time()
    # The visibility timeout runs from the delivery, which the claim follows.
    (claimed,) = query(
        db_file, "SELECT started_at FROM mlmodels_trainingrun WHERE id = ?", run_id
    )[0]
    delivered_at = datetime.fromisoformat(claimed).replace(tzinfo=UTC).timestamp()
    status, _, attempts, progress = runs(db_file)[run_id]
    assert (status, attempts) == ("training", 1), progress
    # Held, not lost: unacknowledged in Redis's "unacked" hash.
    assert private_redis.client().hlen("unacked") == 1
    assert not (tmp_path / "models").exists() or not list(
        (tmp_path / "models").rglob("*.zip")
    )

    rescuer = start_worker(
        env,
        log,
        name="rescuer",
        queues="training",
        config=FAST_RESTORE,
        spawned=spawned,
    )
    try:
        wait_for(lambda: runs(db_file)[run_id][2] == 2, 60, "the redelivery")
        redelivered_after = time.time() - killed_at
        held_for = time.time() - delivered_at
        wait_for(lambda: runs(db_file)[run_id][0] in FINAL, 180, "the training")
    finally:
        stop_process(rescuer)
    status, error, attempts, _ = runs(db_file)[run_id]
    assert (status, error, attempts) == ("trained", "", 2), log.read_text()[-3000:]
    model = _model_of(db_file, run_id)
    assert audit_counts(db_file, "model.trained") == {model: 1}
    assert audit_counts(db_file, "model.training_failed") == {}
    # One artefact, and the stored checksum is the file's.
    (path, sha256) = query(
        db_file,
        "SELECT artefact_path, artefact_sha256 FROM mlmodels_trainingrun WHERE id=?",
        run_id,
    )[0]
    assert [p.name for p in (tmp_path / "models").rglob("*.zip")] == [f"{run_id}.zip"]
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha256
    (trained_run,) = query(
        db_file, "SELECT trained_run_id FROM mlmodels_mlmodel WHERE id = ?", model
    )[0]
    assert trained_run == run_id
    assert private_redis.client().hlen("unacked") == 0  # acknowledged at last
    # Not before the visibility timeout: the message was held, not lost or doubled.
    timeout = FAST_RESTORE["broker.transport_options"]["visibility_timeout"]
    assert held_for >= timeout - 1, held_for
    print(f"run {run_id} claimed again {redelivered_after:.1f} s after the kill")


def test_a_training_that_kills_every_worker_fails_after_the_cap(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    env = base_env(tmp_path, private_redis.url, db_file)
    poison, healthy = create_trainings(env, 2, folds=2, bars=500)
    # Test hook (training._die_if_told, AAITI_TESTING only): the pool process that
    # claims this run SIGKILLs itself, as the OOM killer would; the prefork parent
    # requeues the message at once, flagged redelivered.
    env["AAITI_TEST_KILL_WORKER_ON_RUN"] = str(poison)
    log = tmp_path / "worker.log"
    worker = start_worker(
        env, log, name="prefork", pool="prefork", queues="training", spawned=spawned
    )
    try:
        wait_for(
            lambda: {runs(db_file)[i][0] for i in (poison, healthy)} <= set(FINAL),
            180,
            "both runs",
        )
    finally:
        stop_process(worker)
    states = runs(db_file)
    assert states[healthy][0] == "trained", log.read_text()[-3000:]
    status, error, attempts, _ = states[poison]
    assert (status, attempts) == ("failed", MAX_ATTEMPTS), log.read_text()[-3000:]
    assert error.startswith(f"The worker died {MAX_ATTEMPTS} times")
    model = _model_of(db_file, poison)
    assert audit_counts(db_file, "model.training_failed") == {model: 1}
    assert model not in audit_counts(db_file, "model.trained")
    assert log.read_text().count("WorkerLostError") >= MAX_ATTEMPTS
