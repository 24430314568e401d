"""Tick latency from the feed's record-and-broadcast step to WebSocket clients, with 200
and with 1,000 clients connected to one daphne process over loopback.

The benchmark process plays the feed: for each tick it runs the same functions
``run_feed`` runs (``live.record_price`` then ``live.broadcast``, which renders the
fragment once for the symbol's group), at the feed's coalesced rate of 4 pushes a
second, and stamps the send time per sequence number. Every client parses
``data-seq`` from each frame it receives. The reference, measured in the same run, is
200 clients at 1 push a second: the floor that load is compared against.

    .venv/bin/python benchmarks/bench_ticks_ws.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, bench_env, serve  # noqa: E402

SEQ = re.compile(rb'data-seq="(\d+)"')


def setup_django(env: dict[str, str]) -> str:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aaiti.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from apps.accounts.models import User

    user = User.objects.get(email=env["DEMO_USER_EMAIL"])
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


async def client(
    url: str,
    cookie: str,
    origin: str,
    sent: dict[int, float],
    latencies: list[float],
    ready: asyncio.Event,
    counts: list[int],
) -> None:
    import websockets

    async with websockets.connect(
        url,
        additional_headers={"Cookie": cookie, "Origin": origin},
        max_queue=None,
        open_timeout=60,
    ) as ws:
        counts[0] += 1
        await ready.wait()
        async for frame in ws:
            now = time.time()
            data = frame.encode() if isinstance(frame, str) else frame
            match = SEQ.search(data)
            if match and int(match.group(1)) in sent:
                latencies.append((now - sent[int(match.group(1))]) * 1000)


async def run_case(
    base: str, session_key: str, clients: int, rate: float, seconds: float
) -> dict[str, float]:
    from asgiref.sync import sync_to_async

    from apps.market import live
    from apps.market.models import Asset

    asset = await sync_to_async(Asset.objects.get)(symbol="BTC-USD", owner__isnull=True)
    ws_url = base.replace("http", "ws") + "/ws/prices/?symbols=BTC-USD"
    sent: dict[int, float] = {}
    latencies: list[float] = []
    ready = asyncio.Event()
    counts = [0]
    tasks = [
        asyncio.create_task(
            client(
                ws_url, f"sessionid={session_key}", base, sent, latencies, ready, counts
            )
        )
        for _ in range(clients)
    ]
    while counts[0] < clients:
        await asyncio.sleep(0.2)
        if any(t.done() for t in tasks):
            raise RuntimeError([t.exception() for t in tasks if t.done()][0])
    ready.set()
    await asyncio.sleep(1)

    def tick(price: float) -> None:
        now = datetime.now(UTC)
        bar = live.record_price(
            asset=asset,
            price=price,
            time=now,
            source="replay",
            bar_time=now.replace(minute=0, second=0, microsecond=0),
            timeframe="1h",
        )
        seq = live.current_seq(asset.symbol) + 1
        sent[seq] = time.time()
        live.broadcast(asset, bar=bar)

    pushes = int(seconds * rate)
    started = time.monotonic()
    for i in range(pushes):
        await sync_to_async(tick)(10_000 + i * 0.01)
        delay = started + (i + 1) / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.sleep(3)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    expected = pushes * clients
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return (
            ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]
            if ordered
            else float("nan")
        )

    return {
        "clients": clients,
        "rate": rate,
        "frames": len(latencies),
        "expected": expected,
        "p50": statistics.median(ordered) if ordered else float("nan"),
        "p95": pct(0.95),
        "p99": pct(0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    env = bench_env()
    with serve(env) as base:
        session_key = setup_django(env)
        results = []
        for clients, rate in [(200, 1.0), (200, 4.0), (1000, 4.0)]:
            results.append(
                asyncio.run(run_case(base, session_key, clients, rate, args.seconds))
            )
    print(
        f"{'clients':>8}{'pushes/s':>10}{'frames':>10}{'lost':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    )
    for r in results:
        lost = 1 - r["frames"] / r["expected"]
        print(
            f"{r['clients']:>8}{r['rate']:>10.0f}{r['frames']:>10}{lost:>8.1%}"
            f"{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}"
        )
    print(
        "one daphne process, clients in one asyncio process on the same 2-core machine"
    )


if __name__ == "__main__":
    main()
