"""HTTP load on the real app, started as ``make run`` starts it (scripts/run.py:
honcho running the Procfile's web, worker, beat and feed on a throwaway SQLite
file with the sample data), with the memory of each process at rest and under load.

Three endpoints, each for ``--duration`` seconds with ``--users`` concurrent users
(each user sends its next request when the last one answered; loopback only):

* reference: ``GET /accounts/login/`` anonymous. There is no trivial view in the
  app; this is its cheapest: every middleware, a small template, no database (no
  session cookie, so no session or user is read);
* the dashboard ``GET /`` as a logged-in trader (session cookie);
* the candles API ``GET /api/market/assets/BTC-USD/candles/?timeframe=1h`` with a
  JWT (the default page: 500 bars).

The feed replays prices throughout (to the demo bot). After the HTTP load, the
worker gets ``--backtests`` backtests and one ARIMA training through the API, until
they are done. Memory is each process's resident set (VmRSS from /proc): at rest
after ``--rest`` seconds idle, and the largest seen during the HTTP and worker
load. The worker is its main process plus its pool processes.

    .venv/bin/python benchmarks/bench_http_load.py [--users 50] [--duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, bench_env, free_port  # noqa: E402

PROCESSES = {
    "web": ("daphne",),
    "worker": ("celery", " worker"),
    "beat": ("celery", " beat"),
    "feed": ("manage.py run_feed",),
}
CANDLES = "/api/market/assets/BTC-USD/candles/?timeframe=1h"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ------------------------------------------------------------------ processes


def procfile_processes(root: psutil.Process) -> dict[str, list[psutil.Process]]:
    """name -> [main process, its children] for the four Procfile processes."""
    found: dict[str, list[psutil.Process]] = {}
    for process in root.children(recursive=True):
        try:
            line = " ".join(process.cmdline())
        except psutil.Error:
            continue
        for name, marks in PROCESSES.items():
            wanted = all(m in line for m in marks) and "honcho" not in line
            if wanted and name not in found:
                found[name] = [process, *process.children(recursive=True)]
    return found


def rss_mb(pid: int) -> float:
    """VmRSS of one process from /proc, in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def memory(root: psutil.Process) -> dict[str, float]:
    return {
        name: sum(rss_mb(p.pid) for p in group)
        for name, group in procfile_processes(root).items()
    }


class Sampler:
    """The largest RSS of each process seen while running."""

    def __init__(self, root: psutil.Process) -> None:
        self.root, self.peak, self.task = root, {}, None

    async def run(self) -> None:
        while True:
            for name, mb in (await asyncio.to_thread(memory, self.root)).items():
                self.peak[name] = max(self.peak.get(name, 0.0), mb)
            await asyncio.sleep(1.0)


# ------------------------------------------------------------------ load


async def load(
    client: httpx.AsyncClient, path: str, users: int, duration: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    end = time.monotonic() + duration

    async def user() -> None:
        nonlocal errors
        while time.monotonic() < end:
            started = time.perf_counter()
            try:
                response = await client.get(path)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    started = time.monotonic()
    await asyncio.gather(*(user() for _ in range(users)))
    return latencies, errors, time.monotonic() - started


async def login(base: str, email: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60, limits=LIMITS)
    await client.get("/accounts/login/")
    response = await client.post(
        "/accounts/login/",
        data={
            "username": email,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert "sessionid" in client.cookies, response.text[:300]
    return client


LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=200)


async def measure(
    args: argparse.Namespace, base: str, env: dict[str, str], root: Any
) -> dict[str, float]:
    email, password = env["DEMO_USER_EMAIL"], env["DEMO_USER_PASSWORD"]
    anonymous = httpx.AsyncClient(base_url=base, timeout=60, limits=LIMITS)
    trader = await login(base, email, password)
    api = httpx.AsyncClient(base_url=base, timeout=60, limits=LIMITS)
    token = (
        await api.post("/api/auth/token/", json={"email": email, "password": password})
    ).json()["access"]
    api.headers["Authorization"] = f"Bearer {token}"
    for client, path in (
        (anonymous, "/accounts/login/"),
        (trader, "/"),
        (api, CANDLES),
    ):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    assert "Dashboard" in (await trader.get("/")).text

    sampler = Sampler(root)
    sampling = asyncio.create_task(sampler.run())
    rows = []
    for label, client, path in (
        ("reference: login page, anonymous", anonymous, "/accounts/login/"),
        ("dashboard, trader session", trader, "/"),
        ("candles API (500 bars), JWT", api, CANDLES),
    ):
        latencies, errors, seconds = await load(client, path, args.users, args.duration)
        rows.append((label, latencies, errors, seconds))
    # Then work for the worker: backtests over the 1h samples and an ARIMA
    # training, all at once, until they are done (or --duration has passed).
    ids = []
    for i in range(args.backtests):
        response = await api.post(
            "/api/backtests/",
            json={
                "symbol": "BTC-USD",
                "timeframe": "1h",
                "strategy": "sma_cross",
                "params": {"fast": 5 + i % 20, "slow": 30 + i},
            },
        )
        if response.status_code == 202:
            ids.append(response.json()["id"])
    model = await api.post(
        "/api/models/",
        json={
            "name": "bench arima",
            "algorithm": "arima",
            "symbol": "BTC-USD",
            "timeframe": "1h",
            "params": {},
            "horizon": 24,
            "folds": 5,
            "max_train_bars": 4000,
        },
    )
    assert model.status_code == 201, model.text
    model_id = model.json()["id"]
    response = await api.post(f"/api/models/{model_id}/train/")
    assert response.status_code == 202, response.text
    started, finished = time.monotonic(), 0
    while time.monotonic() - started < max(args.duration, 30):
        finished = 0
        for pk in ids:
            body = (await api.get(f"/api/backtests/{pk}/")).json()
            finished += body["status"] in ("succeeded", "failed")
        status = (await api.get(f"/api/models/{model_id}/")).json()["status"]
        if finished == len(ids) and status not in ("queued", "training"):
            break
        await asyncio.sleep(1)
    worker_seconds = time.monotonic() - started
    sampling.cancel()
    for client in (anonymous, trader, api):
        await client.aclose()

    print(
        f"\n{args.users} concurrent users, {args.duration:.0f} s per endpoint, one "
        f"daphne process, {os.cpu_count()} CPUs (load generator on the same machine; "
        f"load average now {os.getloadavg()[0]:.1f})"
    )
    print(
        f"{'endpoint':<34} {'requests':>8} {'req/s':>7} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'p99 ms':>7} {'errors':>6} {'vs ref':>7}"
    )
    reference = None
    for label, latencies, errors, seconds in rows:
        rate = len(latencies) / seconds
        reference = reference or rate
        print(
            f"{label:<34} {len(latencies):>8} {rate:>7.1f} "
            f"{percentile(latencies, 0.50) * 1000:>7.0f} "
            f"{percentile(latencies, 0.95) * 1000:>7.0f} "
            f"{percentile(latencies, 0.99) * 1000:>7.0f} {errors:>6} "
            f"{rate / reference:>6.2f}x"
        )
    print(
        f"\nworker load: {finished} of {len(ids)} backtests finished and the ARIMA "
        f"training {status} in {worker_seconds:.0f} s"
    )
    return sampler.peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rest", type=float, default=20.0)
    parser.add_argument("--backtests", type=int, default=40)
    args = parser.parse_args()
    env = bench_env(redis_db=int(os.environ.get("BENCH_REDIS_DB", "11")))
    port = free_port()
    env |= {"AAITI_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    log = Path(env["AAITI_VAR_DIR"]) / "run.log"
    run = subprocess.Popen(
        [sys.executable, "scripts/run.py"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if run.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"run.py did not serve:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        root = psutil.Process(run.pid)
        while len(procfile_processes(root)) < 4 or b"ready." not in log.read_bytes():
            time.sleep(0.5)
        time.sleep(args.rest)
        rest = memory(root)
        peak = asyncio.run(measure(args, base, env, root))
        print(f"\n{'process':<8} {'RSS at rest MB':>15} {'RSS under load MB':>18}")
        for name in PROCESSES:
            print(f"{name:<8} {rest.get(name, 0):>15.0f} {peak.get(name, 0):>18.0f}")
        print(
            f"{'total':<8} {sum(rest.values()):>15.0f} {sum(peak.values()):>18.0f}"
            "  (worker: main process and its pool processes)"
        )
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
