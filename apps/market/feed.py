"""The feed process (`manage.py run_feed`): price source -> record -> bots -> browsers.

Each provider stream runs in its own thread and puts ticks on one queue; the main
loop records every tick (latest price and forming bar in the shared cache; live ticks
also update the stored 1m candle), calls the bots' hook, and broadcasts at most
``BROADCAST_HZ`` fragments per second per symbol (the latest price wins). Provider
failures back off and reconnect; a symbol without a fresh price for
``FEED_STALE_SECONDS`` is reported stale (health, pages) and its running bots are
told (``bots.stale``). SIGTERM stops the loop cleanly: the tick being recorded is
finished and the ticks already received are recorded before the process exits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections

from apps.bots.hooks import on_tick
from apps.system.collectors import BROADCAST_LATENCY
from apps.system.metrics import count_tick
from apps.system.services import get_setting

from . import live
from .models import TIMEFRAMES, Asset, Candle
from .providers.base import ProviderError, Tick
from .resample import bucket_start
from .services import Bar, upsert_candles

log = logging.getLogger("aaiti.feed")
BROADCAST_HZ = 4.0
LIVE_TIMEFRAME = "1m"
REPLAY_CURSOR_KEY = "market:replay:cursor:{symbol}"
STALE_RETELL = 30.0  # seconds between two stale notes to a symbol's running bots


@dataclass
class Stream:
    name: str
    open: Callable[[Callable[[], bool]], Iterator[Tick]]
    assets: dict[str, Asset]
    # A live source: its prices can go stale. Replay ticks are made from stored
    # bars as they are sent (at any replay speed), so only a dead feed is stale.
    live: bool = False


@dataclass
class FeedStats:
    ticks: int = 0
    broadcasts: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)


def finest_timeframe(asset: Asset) -> str | None:
    present = set(
        Candle.objects.filter(asset=asset)
        .values_list("timeframe", flat=True)
        .distinct()
    )
    return next((tf for tf in TIMEFRAMES if tf in present), None)


def replay_streams(
    assets: list[Asset], *, seconds_per_hour: float, days: int, ticks_per_bar: int
) -> list[Stream]:
    """One replay per shared asset, over its finest stored series: the last ``days``
    of it, looping. Every symbol runs on the same market clock: a bar of length L
    takes ``L / 1 h * seconds_per_hour`` wall seconds."""
    from .providers.replay import ReplayCursor, ReplayProvider

    streams = []
    for asset in assets:
        timeframe = finest_timeframe(asset)
        if timeframe is None:
            continue
        last = Candle.objects.series(asset, timeframe).order_by("-open_time").first()
        start = last.open_time - timedelta(days=days)

        def load(
            asset: Asset = asset, timeframe: str = timeframe, start: datetime = start
        ) -> Iterator[Any]:
            rows = Candle.objects.series(asset, timeframe, start=start).values_list(
                "open_time", "open", "high", "low", "close", "volume"
            )
            return rows.iterator(chunk_size=2000)

        saved = cache.get(REPLAY_CURSOR_KEY.format(symbol=asset.symbol))
        cursor = ReplayCursor(*saved) if saved else None
        provider = ReplayProvider(
            load,
            symbol=asset.symbol,
            timeframe=timeframe,
            ticks_per_bar=ticks_per_bar,
            seconds_per_bar=seconds_per_hour * TIMEFRAMES[timeframe] / 3600,
            cursor=cursor,
        )
        streams.append(
            Stream(
                f"replay:{asset.symbol}",
                lambda stop, p=provider: p.stream(stop=stop),
                {asset.symbol: asset},
            )
        )
    return streams


def coingecko_streams(assets: list[Asset], *, interval: float) -> list[Stream]:
    from .providers.coingecko import CoinGeckoClient, CoinGeckoProvider

    coins = {
        a.symbol: (a.coingecko_id, a.quote.lower()) for a in assets if a.coingecko_id
    }
    if not coins:
        return []
    client = CoinGeckoClient(
        cache=cache,
        api_key=settings.COINGECKO_API_KEY or None,
        plan=settings.COINGECKO_PLAN,
        calls_per_minute=settings.COINGECKO_CALLS_PER_MINUTE,
        base_url=settings.COINGECKO_BASE_URL or None,
    )
    provider = CoinGeckoProvider(
        client,
        coins,
        interval=max(interval, float(settings.COINGECKO_MIN_POLL_SECONDS)),
        max_backoff=60.0,
    )
    return [
        Stream(
            "coingecko",
            lambda stop: provider.stream(stop=stop),
            {a.symbol: a for a in assets if a.symbol in coins},
            live=True,
        )
    ]


def build_streams() -> list[Stream]:
    assets = list(Asset.objects.shared().active())
    provider = get_setting("market_data_provider")
    interval = float(get_setting("feed_interval_seconds"))
    if provider == "coingecko":
        return coingecko_streams(assets, interval=interval)
    return replay_streams(
        assets,
        seconds_per_hour=interval,
        days=settings.REPLAY_DAYS,
        ticks_per_bar=settings.REPLAY_TICKS_PER_BAR,
    )


class Feed:
    def __init__(self, streams: list[Stream], *, max_backoff: float = 60.0) -> None:
        self.streams = streams
        self.assets = {s: a for stream in streams for s, a in stream.assets.items()}
        self.queue: queue.Queue[Tick] = queue.Queue(maxsize=10000)
        self.stopping = threading.Event()
        self.max_backoff = max_backoff
        self.stats = FeedStats()
        self._pending: dict[str, live.LiveBar] = {}
        # When the oldest tick not yet broadcast reached the loop, per symbol.
        self._since: dict[str, float] = {}
        self._last_push: dict[str, float] = {}
        # When each live symbol's latest price was observed (its tick's time), and
        # when its running bots were last told it is stale (monotonic seconds).
        self._seen: dict[str, datetime] = {}
        self._told_stale: dict[str, float] = {}
        self._failing = False

    def stop(self) -> None:
        self.stopping.set()

    def _pump(self, stream: Stream) -> None:
        """Run one provider, reconnecting with backoff when it fails."""
        failures = 0
        while not self.stopping.is_set():
            try:
                for tick in stream.open(self.stopping.is_set):
                    failures = 0
                    self.queue.put(tick)
                    if self.stopping.is_set():
                        return
                if not self.stopping.is_set():
                    self.stopping.wait(1.0)  # a finished replay restarts its lap
            except ProviderError as exc:
                failures += 1
                self.stats.errors += 1
                wait = min(2**failures, self.max_backoff)
                log.warning(
                    "%s failed (%s); reconnecting in %.0f s", stream.name, exc, wait
                )
                self.stopping.wait(wait)
            except Exception:  # noqa: BLE001 - the feed must outlive a provider bug
                failures += 1
                self.stats.errors += 1
                log.exception("%s crashed; restarting", stream.name)
                close_old_connections()
                self.stopping.wait(min(2**failures, self.max_backoff))

    def record(self, tick: Tick) -> live.LiveBar:
        asset = self.assets[tick.symbol]
        price = float(tick.price)
        if tick.source == "replay":
            bar_time, timeframe = tick.bar_time, finest_cached(asset)
        else:
            bar_time, timeframe = (
                bucket_start(tick.time, LIVE_TIMEFRAME),
                LIVE_TIMEFRAME,
            )
        bar = live.record_price(
            asset=asset,
            price=price,
            time=tick.time,
            source=tick.source,
            bar_time=bar_time,
            timeframe=timeframe,
        )
        if tick.source == "live":
            upsert_candles(
                asset=asset,
                timeframe=LIVE_TIMEFRAME,
                bars=[Bar(bar.time, bar.open, bar.high, bar.low, bar.close, None)],
            )
        else:
            cache.set(
                REPLAY_CURSOR_KEY.format(symbol=tick.symbol),
                (tick.bar_time, tick.tick_index),
                timeout=None,
            )
        if tick.source == "live":
            self._seen[tick.symbol] = tick.time
        on_tick(asset=asset, tick=tick)
        count_tick()
        self.stats.ticks += 1
        return bar

    def flush(self, *, force: bool = False) -> None:
        """Broadcast the latest bar per symbol, at most BROADCAST_HZ a second each."""
        now = time.monotonic()
        for symbol, bar in list(self._pending.items()):
            if force or now - self._last_push.get(symbol, 0.0) >= 1.0 / BROADCAST_HZ:
                live.broadcast(self.assets[symbol], bar=bar)
                since = self._since.pop(symbol, now)
                BROADCAST_LATENCY.observe(time.monotonic() - since)
                self._last_push[symbol] = now
                del self._pending[symbol]
                self.stats.broadcasts += 1

    def heartbeat(self) -> None:
        cache.set(
            live.HEARTBEAT_KEY,
            {
                "time": datetime.now(UTC),
                "ticks": self.stats.ticks,
                "provider": get_setting("market_data_provider"),
                "seen": dict(self._seen),  # live symbols: when last priced
            },
            timeout=None,
        )

    def check_stale(self) -> None:
        """For each symbol whose latest price is older than FEED_STALE_SECONDS:
        tell its running bots (again every STALE_RETELL seconds, for bots started
        meanwhile) and push its fragment once, so open pages show it stale."""
        from apps.bots.engine import running_bots
        from apps.bots.stale import note_stale

        now, clock = datetime.now(UTC), time.monotonic()
        for symbol, seen in self._seen.items():
            if (now - seen).total_seconds() <= settings.FEED_STALE_SECONDS:
                self._told_stale.pop(symbol, None)
                continue
            told = self._told_stale.get(symbol)
            if told is not None and clock - told < STALE_RETELL:
                continue
            asset = self.assets[symbol]
            note_stale(bots=running_bots(asset.pk), symbol=symbol, price_time=seen)
            if told is None:
                self._pending.pop(symbol, None)
                live.broadcast(asset, bar=None)
                log.warning("%s: no fresh price since %s", symbol, seen.isoformat())
            self._told_stale[symbol] = clock

    def _start_clock(self) -> None:
        """A fresh start is given FEED_STALE_SECONDS to deliver each symbol's
        first price before it counts as stale."""
        now = datetime.now(UTC)
        for stream in self.streams:
            if stream.live:
                for symbol in stream.assets:
                    self._seen.setdefault(symbol, now)

    def run(self, *, max_ticks: int | None = None) -> FeedStats:
        threads = [
            threading.Thread(target=self._pump, args=(s,), name=s.name, daemon=True)
            for s in self.streams
        ]
        self._start_clock()
        for thread in threads:
            thread.start()
        last_beat = 0.0
        while not self.stopping.is_set():
            try:
                tick = self.queue.get(timeout=1.0 / BROADCAST_HZ)
            except queue.Empty:
                tick = None
            if tick is not None:
                arrived = time.monotonic()
                try:
                    self._pending[tick.symbol] = self.record(tick)
                    self._since.setdefault(tick.symbol, arrived)
                except Exception:  # noqa: BLE001 - one bad tick must not stop the feed
                    self.stats.errors += 1
                    if not self._failing:  # during a Redis outage, once
                        log.exception("recording a %s tick failed", tick.symbol)
                    close_old_connections()
            self._guarded(self.flush)
            if time.monotonic() - last_beat > 1.0:
                last_beat = time.monotonic()
                self._guarded(self.heartbeat)
                self._guarded(self.check_stale)
            if max_ticks is not None and self.stats.ticks >= max_ticks:
                self.stop()
                max_ticks = -1  # stopped by the count: nothing more is recorded
        # Stopped (SIGTERM): the tick being recorded was finished first (the signal
        # only sets the flag); the providers stop, and the ticks they had already
        # handed over are recorded, so none received is lost.
        for thread in threads:
            thread.join(timeout=5)
        while max_ticks != -1:
            try:
                self._record_safely(self.queue.get_nowait())
            except queue.Empty:
                break
        self._guarded(lambda: self.flush(force=True))
        self._guarded(self.heartbeat)
        return self.stats

    def _guarded(self, step: Callable[[], None]) -> None:
        """Broadcasts, heartbeat and stale notes need Redis: while it is down they
        fail (logged once per outage, counted) and the feed goes on, since honcho
        stops every process of ``make run`` when one exits."""
        try:
            step()
        except Exception:  # noqa: BLE001 - Redis down must not stop the feed
            self.stats.errors += 1
            if not self._failing:
                log.exception("the feed cannot reach Redis or the database; retrying")
            self._failing = True
            close_old_connections()
        else:
            if self._failing:
                log.warning("the feed reaches Redis again")
            self._failing = False

    def _record_safely(self, tick: Tick) -> None:
        try:
            self._pending[tick.symbol] = self.record(tick)
        except Exception:  # noqa: BLE001 - one bad tick must not stop the feed
            self.stats.errors += 1
            if not self._failing:  # during an outage, once
                log.exception("recording a %s tick failed", tick.symbol)
            close_old_connections()


_FINEST: dict[int, str] = {}


def finest_cached(asset: Asset) -> str:
    if asset.pk not in _FINEST:
        _FINEST[asset.pk] = finest_timeframe(asset) or "1h"
    return _FINEST[asset.pk]


def feed_status() -> dict[str, Any]:
    """For /api/health: how old the newest live price is (the time its tick was
    observed; the heartbeat's own age for a replay), stale past
    FEED_STALE_SECONDS, and which live symbols are stale. A feed process that
    stopped beating is stale too."""
    beat = cache.get(live.HEARTBEAT_KEY)
    if not beat:
        return {"status": "absent"}
    now, limit = datetime.now(UTC), settings.FEED_STALE_SECONDS
    seen: dict[str, datetime] = beat.get("seen") or {}
    age = (now - beat["time"]).total_seconds()
    if seen:
        age = max(age, (now - max(seen.values())).total_seconds())
    stale_symbols = sorted(
        s for s, t in seen.items() if (now - t).total_seconds() > limit
    )
    return {
        "status": "stale" if age > limit or stale_symbols else "ok",
        "age_seconds": round(age, 1),
        "provider": beat.get("provider"),
        "stale_symbols": stale_symbols,
    }
