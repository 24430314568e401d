"""Time from a price tick to the bot's order being visible to a connected client.

A real daphne serves the app (loopback only). This process plays the feed: it runs
each tick through the feed's own step (``Feed.record``: latest price and bar, the
bots' tick hook, then ``Feed.flush``, the price broadcast), on the stored BTC-USD 1h
candles replayed six ticks a bar. A paper bot of the demo account runs SMA 1/2 on
BTC-USD 1h, so most bar closes change its target and make an order. Two WebSocket
clients are connected as the bot's owner: one on ``/ws/me/?topics=bot:<id>`` (the
bot's page) and one on ``/ws/prices/?symbols=BTC-USD``.

Measured, per closing tick that makes an order: tick (just before ``record``) ->
the bot page's fragment listing the new order received. Reference, in the same run:
the same tick -> its price update received on /ws/prices/, and the price update of
ticks on which no bot runs (bot stopped), the feed's floor.

    .venv/bin/python benchmarks/bench_tick_latency.py [--orders 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import bench_env, serve  # noqa: E402
from bench_ticks_ws import setup_django  # noqa: E402

SEQ = re.compile(rb'data-seq="(\d+)"')
NEW_ORDER = b"<td>new"
PROFILE: Any = None  # --profile: cProfile of Feed.record


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return f"{name:<44} no samples"
    p95 = ordered[min(len(ordered) - 1, int(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<44} n={len(ordered):>4}  p50 {statistics.median(ordered):7.1f} ms  "
        f"p95 {p95:7.1f} ms  max {ordered[-1]:7.1f} ms"
    )


class Listener:
    """One WebSocket client; keeps (receive time, frame) pairs."""

    def __init__(self, url: str, cookie: str, origin: str) -> None:
        self.url, self.cookie, self.origin = url, cookie, origin
        self.frames: list[tuple[float, bytes]] = []
        self.open = asyncio.Event()

    async def run(self) -> None:
        import websockets

        async with websockets.connect(
            self.url,
            additional_headers={"Cookie": self.cookie, "Origin": self.origin},
            max_queue=None,
            open_timeout=60,
        ) as ws:
            self.open.set()
            async for frame in ws:
                data = frame.encode() if isinstance(frame, str) else frame
                self.frames.append((time.perf_counter(), data))


def make_bot(user_email: str) -> Any:
    from apps.accounts.models import User
    from apps.bots.services import BotSpec, create_bot, start_bot

    user = User.objects.get(email=user_email)
    bot = create_bot(
        owner=user,
        spec=BotSpec(
            name="latency",
            symbol="BTC-USD",
            strategy="sma_cross",
            params={"fast": 1, "slow": 2},
            timeframe="1h",
        ),
    )
    return start_bot(bot=bot, actor=user)


def ticks(bars: int) -> list[Any]:
    from apps.market.models import Asset, Candle
    from apps.market.providers.replay import replay_ticks

    asset = Asset.objects.get(symbol="BTC-USD", owner__isnull=True)
    rows = list(
        Candle.objects.filter(asset=asset, timeframe="1h")
        .order_by("-open_time")
        .values_list("open_time", "open", "high", "low", "close", "volume")[:bars]
    )
    rows.reverse()
    from django.conf import settings

    return list(
        replay_ticks(
            rows,
            symbol="BTC-USD",
            timeframe="1h",
            ticks_per_bar=settings.REPLAY_TICKS_PER_BAR,
        )
    )


async def measure(base: str, session: str, email: str, orders: int) -> None:
    from asgiref.sync import sync_to_async

    from apps.bots.models import Order
    from apps.market.feed import Feed, Stream
    from apps.market.models import Asset

    bot = await sync_to_async(make_bot)(email)
    asset = await sync_to_async(Asset.objects.get)(symbol="BTC-USD", owner__isnull=True)
    feed = Feed([Stream("bench", lambda stop: iter(()), {"BTC-USD": asset})])
    ws = base.replace("http", "ws")
    me = Listener(f"{ws}/ws/me/?topics=bot:{bot.pk}", f"sessionid={session}", base)
    prices = Listener(f"{ws}/ws/prices/?symbols=BTC-USD", f"sessionid={session}", base)
    clients = [asyncio.create_task(c.run()) for c in (me, prices)]
    await asyncio.wait_for(asyncio.gather(me.open.wait(), prices.open.wait()), 60)
    await asyncio.sleep(1)

    record_ms: list[float] = []

    def step(tick: Any) -> tuple[float, bool, int]:
        """The feed loop's body for one tick: record (bots included), then flush."""
        from apps.market import live as market_live

        before = Order.objects.filter(bot_id=bot.pk).count()
        started = time.perf_counter()
        if PROFILE is not None:
            PROFILE.enable()
        feed._pending[tick.symbol] = feed.record(replace(tick, time=datetime.now(UTC)))
        if PROFILE is not None:
            PROFILE.disable()
        recorded = time.perf_counter()
        seq = market_live.current_seq("BTC-USD") + 1
        feed.flush(force=True)
        made = Order.objects.filter(bot_id=bot.pk).count() > before
        if made:
            record_ms.append((recorded - started) * 1000)
        return started, made, seq

    async def wait_for(
        listener: Listener, since: int, match: Any, timeout: float = 5.0
    ) -> float | None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for when, data in listener.frames[since:]:
                if match(data):
                    return when
            await asyncio.sleep(0.001)
        return None

    def seq_is(seq: int) -> Any:
        return lambda data: (m := SEQ.search(data)) is not None and int(m[1]) == seq

    order_ms: list[float] = []
    same_tick_price_ms: list[float] = []
    no_bot_price_ms: list[float] = []
    lost = 0
    stream = await sync_to_async(ticks)(orders * 4 + 50)
    index = 0
    while len(order_ms) < orders and index < len(stream):
        tick = stream[index]
        index += 1
        me_mark, price_mark = len(me.frames), len(prices.frames)
        started, made, seq = await sync_to_async(step)(tick)
        got_price = await wait_for(prices, price_mark, seq_is(seq))
        if not made:
            await asyncio.sleep(0.02)  # let this tick's pushes drain
            continue
        got_order = await wait_for(me, me_mark, lambda d: NEW_ORDER in d)
        if got_order is None or got_price is None:
            lost += 1
            continue
        order_ms.append((got_order - started) * 1000)
        same_tick_price_ms.append((got_price - started) * 1000)
        await asyncio.sleep(0.05)

    # The floor: the same feed step with no running bot on the symbol.
    from apps.bots.models import TradingBot

    await sync_to_async(
        lambda: TradingBot.objects.filter(pk=bot.pk).update(status="stopped")
    )()
    for tick in stream[index : index + orders * 2]:
        price_mark = len(prices.frames)
        started, _made, seq = await sync_to_async(step)(tick)
        got = await wait_for(prices, price_mark, seq_is(seq))
        if got is not None:
            no_bot_price_ms.append((got - started) * 1000)
        await asyncio.sleep(0.02)
    for task in clients:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)

    print(f"ticks replayed: {index}, orders measured: {len(order_ms)}, lost: {lost}")
    print(summary("tick -> order on the bot's page (/ws/me/)", order_ms))
    print(summary("  of which Feed.record (bots, pushes sent)", record_ms))
    print(summary("reference: same tick -> price (/ws/prices/)", same_tick_price_ms))
    print(summary("reference: no bot running -> price", no_bot_price_ms))
    if order_ms and no_bot_price_ms:
        ratio = statistics.median(order_ms) / statistics.median(no_bot_price_ms)
        print(f"order p50 / no-bot price p50: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    global PROFILE
    if args.profile:
        import cProfile

        PROFILE = cProfile.Profile()
    env = bench_env()
    with serve(env) as base:
        session = setup_django(env)
        asyncio.run(measure(base, session, env["DEMO_USER_EMAIL"], args.orders))
    if PROFILE is not None:
        import pstats

        pstats.Stats(PROFILE).sort_stats("cumulative").print_stats(30)
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)


if __name__ == "__main__":
    main()
