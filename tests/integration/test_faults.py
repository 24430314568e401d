"""Faults, each through real processes: Celery workers on the test's own
redis-server, a temporary SQLite file database, daphne and ``scripts/run.py``.

* A worker SIGKILLed mid-backtest: the unacknowledged message comes back and the
  job completes exactly once; a job that kills every worker is failed after
  services.MAX_ATTEMPTS deliveries.
* Redis stopped for 30 s: submissions answer 503, health answers 503, queued jobs
  survive (append-only file) and the worker reconnects by itself.
* Clean shutdown: SIGTERM to run.py stops every process; SIGTERM to a worker
  mid-job finishes the job first.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from .conftest import (
    EMAIL,
    PASSWORD,
    PYTHON,
    ROOT,
    BrowserSession,
    PrivateRedis,
    answers_http,
    audit_counts,
    base_env,
    create_backtests,
    http,
    jobs,
    start_web,
    start_worker,
    stop_process,
    wait_for,
)
from .conftest import redis_boot as boot

pytestmark = pytest.mark.integration

# The settings make the visibility timeout CELERY_TASK_TIME_LIMIT + 600 s and
# kombu sweeps for expired messages every 10 s x 10 calls: the same mechanism,
# shortened for the worker that recovers the message.
FAST_RESTORE = {
    "broker.transport_options": {
        "visibility_timeout": 6,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
}


def _all_final(db: Path, ids: list[int]) -> bool:
    states = jobs(db)
    return all(states[i][0] in ("succeeded", "failed") for i in ids)


def test_sigkilled_worker_job_is_redelivered_and_completes_once(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    env = base_env(tmp_path, private_redis.url, db_file)
    ids = create_backtests(env, 30)
    log = tmp_path / "worker.log"
    victim = None
    for attempt in range(3):  # the kill may land between two jobs: try again
        worker = start_worker(env, log, name=f"doomed{attempt}", spawned=spawned)
        wait_for(
            lambda: [i for i, s in jobs(db_file).items() if s[0] == "running"],
            30,
            "a running backtest",
            step=0.02,
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = time.time()
        left = [i for i, s in jobs(db_file).items() if s[0] == "running"]
        if left:
            victim = left[0]
            break
    assert victim is not None, "the SIGKILL never landed mid-backtest"
    assert jobs(db_file)[victim][2] == 1  # claimed once; its worker died holding it
    # Its message is neither lost nor back on the queue: unacknowledged, held in
    # Redis's "unacked" hash with its delivery time.
    assert private_redis.client().hlen("unacked") >= 1

    # Once its visibility timeout has passed, a live worker's periodic sweep puts
    # it back on the queue flagged "redelivered"; the service takes the dead claim
    # over. (A worker started with the production timeout leaves it there.)
    rescuer = start_worker(
        env, log, name="rescuer", config=FAST_RESTORE, spawned=spawned
    )
    try:
        wait_for(lambda: jobs(db_file)[victim][2] == 2, 60, "the redelivery")
        redelivered_after = time.time() - killed_at
        wait_for(lambda: _all_final(db_file, ids), 60, "every backtest to finish")
    finally:
        stop_process(rescuer)
    states = jobs(db_file)
    assert {states[i][0] for i in ids} == {"succeeded"}, log.read_text()
    assert states[victim][2] == 2  # claimed again once, by the redelivery
    succeeded = audit_counts(db_file, "backtest.succeeded")
    assert {i: succeeded.get(i) for i in ids} == dict.fromkeys(ids, 1)
    assert audit_counts(db_file, "backtest.failed") == {}
    # Not before the visibility timeout: the message was held, not lost or doubled.
    assert (
        redelivered_after
        >= FAST_RESTORE["broker.transport_options"]["visibility_timeout"] - 1
    ), redelivered_after
    print(f"backtest {victim} claimed again {redelivered_after:.1f} s after the kill")


def test_a_job_that_kills_every_worker_fails_after_three_attempts(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    env = base_env(tmp_path, private_redis.url, db_file)
    poison, healthy = create_backtests(env, 2)
    # Test hook (services._die_if_told, AAITI_TESTING only): the pool process that
    # claims this job SIGKILLs itself, as the OOM killer would. The prefork parent
    # sees the child lost and, with REJECT_ON_WORKER_LOST, requeues the message
    # at once, flagged redelivered.
    env["AAITI_TEST_KILL_WORKER_ON_JOB"] = str(poison)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, name="prefork", pool="prefork", spawned=spawned)
    try:
        wait_for(lambda: _all_final(db_file, [poison, healthy]), 90, "both jobs")
    finally:
        stop_process(worker)
    states = jobs(db_file)
    assert states[healthy][0] == "succeeded"
    status, error, attempts = states[poison]
    assert (status, attempts) == ("failed", 3), log.read_text()
    assert error.startswith("The worker died 3 times running this job")
    assert audit_counts(db_file, "backtest.failed") == {poison: 1}
    assert poison not in audit_counts(db_file, "backtest.succeeded")
    assert log.read_text().count("WorkerLostError") >= 3


OUTAGE_SECONDS = 30
SPEC = {
    "symbol": "BTC-USD",
    "timeframe": "1h",
    "strategy": "sma_cross",
    "params": {"fast": 10, "slow": 30},
}


def live_socket(base: str, browser: BrowserSession) -> Any:
    """The page's /ws/me/ socket, as a browser opens it (session cookie, Origin)."""
    from websockets.sync.client import connect

    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.jar)
    return connect(
        base.replace("http", "ws", 1) + "/ws/me/?topics=backtests,dashboard",
        origin=base,
        additional_headers={"Cookie": cookie},
        open_timeout=15,
    )


def reconnect(base: str, browser: BrowserSession) -> tuple[Any, int]:
    """Open the socket again as the page does after losing it: retry with backoff
    while the handshake is refused (never answered with a 500)."""
    from websockets.exceptions import InvalidStatus

    for attempt in range(1, 6):
        try:
            return live_socket(base, browser), attempt
        except InvalidStatus as refused:
            assert refused.response.status_code == 403, refused
            time.sleep(attempt)
    raise AssertionError("the socket was refused five times after the outage")


def pushed_within(socket: Any, seconds: float) -> str | None:
    try:
        return socket.recv(timeout=seconds)
    except TimeoutError:
        return None


def test_redis_down_for_30_seconds_loses_nothing_and_recovers(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    env = base_env(tmp_path, private_redis.url, db_file)
    web, base = start_web(env, tmp_path / "web.log", spawned=spawned)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, name="survivor", spawned=spawned)
    try:
        code, body, _ = http(
            "POST", f"{base}/api/auth/token/", {"email": EMAIL, "password": PASSWORD}
        )
        assert code == 200, body
        token = body["access"]
        browser = BrowserSession(base, EMAIL, PASSWORD)
        before_outage = live_socket(base, browser)

        def submit(spec: dict) -> tuple[int, dict, dict]:
            return http("POST", f"{base}/api/backtests/", spec, token)

        # Accepted before the outage: more than the worker finishes before it.
        before = []
        for _ in range(20):
            code, body, _ = submit(SPEC)
            assert code == 202, body
            before.append(body["id"])
        # The page's socket hears the worker's progress before the outage...
        assert pushed_within(before_outage, 30), "no push before the outage"
        private_redis.stop()
        stopped = time.monotonic()
        pending = [i for i in before if jobs(db_file)[i][0] == "queued"]
        assert pending, "the worker finished every job before Redis stopped"

        code, health, _ = http("GET", f"{base}/api/health")
        assert code == 503, health
        down = {k for k, v in health["checks"].items() if v["status"] == "error"}
        assert {"redis", "celery_broker", "cache", "channel_layer"} <= down, health
        assert health["checks"]["database"]["status"] == "ok"

        # A token is checked against its logout denylist in Redis, and default
        # costs come from the settings cache: refused before anything is written.
        # A browser session (in the database) with explicit costs gets further:
        # the job is stored, the broker refuses it, it is failed at once.
        explicit = {**SPEC, "fee_bps": 10, "slippage_bps": 5}
        for spec, who in ((SPEC, {"token": token}), (explicit, {"session": browser})):
            code, body, headers = http("POST", f"{base}/api/backtests/", spec, **who)
            assert code == 503, body
            assert body["error"]["code"] == "queue_unavailable", body
            assert "Redis is not answering" in body["error"]["message"], body
            assert headers.get("Retry-After") == "30"
        during = {i: s for i, s in jobs(db_file).items() if i not in before}
        assert [s[0] for s in during.values()] == ["failed"], during
        (not_run,) = during
        assert during[not_run][1].startswith("Not run: the job queue (Redis)")
        assert f"backtest {not_run} " in body["error"]["message"]

        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
        private_redis.start()  # same port, same append-only file
        restarted = time.monotonic()

        # Nothing accepted before the outage is lost, or run twice.
        wait_for(lambda: _all_final(db_file, before), 90, "the queued jobs")
        drained = time.monotonic() - restarted
        states = jobs(db_file)
        assert {states[i][0] for i in before} == {"succeeded"}, log.read_text()
        succeeded = audit_counts(db_file, "backtest.succeeded")
        assert {i: succeeded.get(i) for i in before} == dict.fromkeys(before, 1)
        assert worker.poll() is None  # the same worker, reconnected by itself

        wait_for(lambda: http("GET", f"{base}/api/health")[0] == 200, 30, "health")
        # ...and a page that reconnects afterwards (htmx's ws extension reconnects
        # by itself with backoff) hears the live updates again, through the same
        # daphne process and its channel layer, reconnected to Redis.
        before_outage.close()
        after, attempts = reconnect(base, browser)
        code, body, _ = submit(SPEC)
        assert code == 202, body
        wait_for(lambda: jobs(db_file)[body["id"]][0] == "succeeded", 30, "a new job")
        frame = pushed_within(after, 30)
        assert frame, "no push on a socket opened after the outage"
        after.close()
        assert web.poll() is None
        print(
            f"{len(pending)} queued jobs drained {drained:.1f} s after Redis returned;"
            f" the page's socket reconnected at attempt {attempts}"
        )
    finally:
        stop_process(worker)
        stop_process(web)


def test_sigterm_mid_job_finishes_the_job_and_loses_none(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    env = base_env(tmp_path, private_redis.url, db_file)
    ids = create_backtests(env, 20)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, name="warm", spawned=spawned)
    running = wait_for(
        lambda: [i for i, s in jobs(db_file).items() if s[0] == "running"],
        30,
        "a running backtest",
        step=0.02,
    )
    worker.send_signal(signal.SIGTERM)  # warm shutdown
    assert worker.wait(timeout=30) == 0, log.read_text()
    states = jobs(db_file)
    assert states[running[0]][0] == "succeeded"  # finished before the worker left
    assert "running" not in {s[0] for s in states.values()}
    left = [i for i in ids if states[i][0] == "queued"]
    assert left, "the worker finished every job before SIGTERM"

    # A worker with the production visibility timeout (70 min) takes every job
    # left: none was held unacknowledged by the one that shut down.
    successor = start_worker(env, log, name="successor", spawned=spawned)
    try:
        wait_for(lambda: _all_final(db_file, ids), 60, "every backtest to finish")
    finally:
        stop_process(successor)
    states = jobs(db_file)
    assert {states[i] for i in ids} == {("succeeded", "", 1)}
    succeeded = audit_counts(db_file, "backtest.succeeded")
    assert {i: succeeded.get(i) for i in ids} == dict.fromkeys(ids, 1)


PROCFILE_PROCESSES = {
    "web": ("daphne",),
    "worker": ("celery", " worker"),
    "beat": ("celery", " beat"),
    "feed": ("manage.py run_feed",),
}


def _procfile_processes(tree: list[psutil.Process]) -> dict[str, psutil.Process]:
    found = {}
    for process in tree:
        try:
            line = " ".join(process.cmdline())
        except psutil.Error:
            continue
        for name, marks in PROCFILE_PROCESSES.items():
            if all(m in line for m in marks) and "honcho" not in line:
                found.setdefault(name, process)
    return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_run_py_stops_every_process_on_sigterm(
    private_redis: PrivateRedis, db_file: Path, tmp_path: Path
) -> None:
    # db_file is AAITI_VAR_DIR/aaiti.sqlite3, run.py's default database: migrated.
    env = base_env(tmp_path, private_redis.url)
    port = boot.free_port()
    env |= {"AAITI_PORT": str(port), "DEMO_USER_EMAIL": "", "CELERY_CONCURRENCY": "1"}
    log = tmp_path / "run.log"
    run = subprocess.Popen(
        [PYTHON, "scripts/run.py"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    tree: list[psutil.Process] = []
    try:
        wait_for(
            lambda: (
                answers_http(f"http://127.0.0.1:{port}/api/health") == 200
                or run.poll() is not None
            ),
            120,
            "run.py to serve a healthy app",
            step=0.5,
        )
        assert run.poll() is None, log.read_text()
        parent = psutil.Process(run.pid)
        found = wait_for(
            lambda: (
                len(_procfile_processes(parent.children(recursive=True))) == 4
                and _procfile_processes(parent.children(recursive=True))
            ),
            30,
            "the four Procfile processes",
        )
        tree = parent.children(recursive=True)
        # Stop a running system, not one still starting: the worker is consuming.
        wait_for(lambda: b"ready." in log.read_bytes(), 60, "the worker to be ready")

        run.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = run.wait(timeout=30)
        wait_for(
            lambda: not [p for p in tree if _alive(p)],
            max(1.0, 30 - (time.monotonic() - started)),
            "every child of run.py to exit",
        )
        took = time.monotonic() - started
    finally:
        if run.poll() is None:  # the test failed: stop what it started, by pid
            tree = tree or psutil.Process(run.pid).children(recursive=True)
            run.kill()
            run.wait(timeout=10)
        for process in tree:
            if _alive(process):
                process.kill()
    assert set(found) == set(PROCFILE_PROCESSES)
    text = log.read_text()
    # honcho answers a SIGTERM with 128 + 15 once its processes are down, and
    # SIGKILLs any still there after its grace period: none was.
    assert code == 128 + signal.SIGTERM, text[-3000:]
    assert "SIGKILL" not in text and "Traceback" not in text, text[-3000:]
    assert "Warm shutdown" in text, text[-3000:]  # the worker stopped consuming
    print(f"run.py and {len(tree)} children gone {took:.1f} s after SIGTERM")


SWEEP = """
import json
from datetime import UTC, datetime
from apps.accounts.models import User
from apps.backtests import services
from apps.backtests.services import JobRequest
user = User.objects.get(email={email!r})
req = JobRequest(symbol="BTC-USD", timeframe="1h", strategy="sma_cross",
                 start=datetime(2019, 1, 1, tzinfo=UTC),
                 end=datetime(2019, 3, 1, tzinfo=UTC))
sweep = services.create_sweep(owner=user, req=req,
                              grid={{"fast": "5:14:1", "slow": "30:39:1"}})
chunks = sweep.chunks.order_by("index").values_list("pk", flat=True)
print(json.dumps([sweep.pk, *chunks]))
"""


def test_a_sweep_chunk_that_kills_every_worker_fails_the_sweep_after_three_attempts(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    import json

    from .conftest import manage, query

    env = base_env(tmp_path, private_redis.url, db_file)
    out = manage("shell", "-c", SWEEP.format(email=EMAIL), env=env)
    sweep_id, poison, *others = json.loads(out.strip().splitlines()[-1])
    assert others, "the grid should make at least two chunks"
    # As above, for a chunk: the pool process that claims it SIGKILLs itself.
    env["AAITI_TEST_KILL_WORKER_ON_CHUNK"] = str(poison)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, name="prefork", pool="prefork", spawned=spawned)

    def sweep_state() -> tuple[str, str]:
        return query(db_file, "SELECT status, error FROM backtests_sweep")[0]

    try:
        wait_for(lambda: sweep_state()[0] == "failed", 90, "the sweep to fail")
    finally:
        stop_process(worker)
    status, error = sweep_state()
    assert error.startswith("The worker died 3 times running this job"), error
    chunk = query(
        db_file,
        "SELECT status, attempts FROM backtests_sweepchunk WHERE id = ?",
        poison,
    )[0]
    assert chunk == ("failed", 3), log.read_text()
    assert audit_counts(db_file, "sweep.failed") == {sweep_id: 1}
    assert log.read_text().count("WorkerLostError") >= 3
