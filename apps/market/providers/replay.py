"""Replay stored candles as a live market, for offline demos and bots without network.

Each bar becomes ``ticks_per_bar`` prices along the bar's own path: open, then the
extreme against the bar's direction, then the other extreme, then close (a rising bar,
close >= open, goes open-low-high-close; a falling one open-high-low-close), with
evenly spaced straight-line points between. Every price is rounded to the finest
decimal place of the bar's own prices, so it never leaves [low, high] and the last
tick is exactly the close. Nothing is random: the same candles give the same ticks.

:func:`replay_ticks` is pure (no clock, no sleep); :func:`paced` adds the timing and
:class:`ReplayProvider` wraps both as a :class:`~apps.market.providers.base.Provider`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from apps.market.providers.base import Tick, TickSource
from apps.market.resample import timeframe_seconds

MIN_TICKS, MAX_TICKS = 4, 1000

CandleRow = Any  # (time, o, h, l, c, v) tuple or an object with open_time, open...


@dataclass(frozen=True, slots=True)
class ReplayCursor:
    """The last tick delivered: a restarted replay continues right after it."""

    bar_time: datetime
    tick_index: int

    @classmethod
    def of(cls, tick: Tick) -> ReplayCursor:
        if tick.bar_time is None or tick.tick_index is None:
            raise ValueError("only replay ticks carry a cursor")
        return cls(tick.bar_time, tick.tick_index)


def bar_path(
    open_: Decimal, high: Decimal, low: Decimal, close: Decimal, ticks: int
) -> list[Decimal]:
    """``ticks`` prices from open to close through both extremes of the bar."""
    if not MIN_TICKS <= ticks <= MAX_TICKS:
        raise ValueError(f"ticks per bar must be {MIN_TICKS}..{MAX_TICKS}, not {ticks}")
    if not (low <= min(open_, close) and high >= max(open_, close)):
        raise ValueError(f"inconsistent bar o={open_} h={high} l={low} c={close}")
    first, second = (low, high) if close >= open_ else (high, low)
    anchors = (open_, first, second, close)
    steps = ticks - 1
    # Three legs share the steps; the earlier legs take the remainder.
    legs = [steps // 3 + (1 if leg < steps % 3 else 0) for leg in range(3)]
    quantum = Decimal(1).scaleb(min(_exponent(p) for p in anchors))
    path = [open_]
    for leg, count in enumerate(legs):
        start, end = anchors[leg], anchors[leg + 1]
        for k in range(1, count):
            point = start + (end - start) * k / count
            path.append(point.quantize(quantum, rounding=ROUND_HALF_EVEN))
        path.append(end)  # the extremes and the close exactly as stored
    return path


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _unpack(row: CandleRow) -> tuple[datetime, Decimal, Decimal, Decimal, Decimal]:
    if hasattr(row, "open_time"):
        values = (row.open_time, row.open, row.high, row.low, row.close)
    else:
        values = tuple(row[:5])
    moment, *prices = values
    return moment, *(_decimal(p) for p in prices)  # type: ignore[return-value]


def _decimal(value: Decimal | float | int | str) -> Decimal:
    # str() of a float is its shortest repr, so 11849.99 stays 11849.99.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def replay_ticks(
    candles: Iterable[CandleRow],
    *,
    symbol: str,
    timeframe: str,
    ticks_per_bar: int = 6,
    after: ReplayCursor | None = None,
) -> Iterator[Tick]:
    """Ticks for candles sorted oldest first, resuming after ``after`` if given.

    A tick's ``time`` here is the simulated moment inside its bar (bar open time plus
    its share of the bar); :func:`paced` restamps it with the wall clock.
    """
    step = timedelta(seconds=timeframe_seconds(timeframe)) / ticks_per_bar
    for row in candles:
        bar_time, open_, high, low, close = _unpack(row)
        if after is not None and bar_time < after.bar_time:
            continue
        skip = after.tick_index + 1 if after and bar_time == after.bar_time else 0
        prices = bar_path(open_, high, low, close, ticks_per_bar)
        for index in range(skip, ticks_per_bar):
            yield Tick(
                symbol=symbol,
                price=prices[index],
                time=bar_time + step * index,
                source="replay",
                bar_time=bar_time,
                tick_index=index,
            )


def paced(
    ticks: Iterable[Tick],
    *,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[Tick]:
    """Yield ``ticks`` one per ``interval`` seconds, stamped with the wall clock.

    Deadlines are counted from the start, so slow consumers do not make the replay
    drift; a consumer that falls behind gets the late ticks at once.
    """
    started = monotonic()
    for count, tick in enumerate(ticks):
        delay = started + count * interval - monotonic()
        if delay > 0:
            sleep(delay)
        if stop():
            return
        yield replace(tick, time=now())


class ReplayProvider:
    """Stored candles replayed as a market; loops back to the start when they end.

    ``load`` returns the candles oldest first (a queryset iterator is fine) and is
    called again on every lap, so bars added meanwhile are included.
    """

    source: TickSource = "replay"

    def __init__(
        self,
        load: Callable[[], Iterable[CandleRow]],
        *,
        symbol: str,
        timeframe: str,
        ticks_per_bar: int = 6,
        seconds_per_bar: float = 1.0,
        loop: bool = True,
        cursor: ReplayCursor | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if seconds_per_bar <= 0:
            raise ValueError("seconds_per_bar must be positive")
        self.load, self.symbol, self.timeframe = load, symbol, timeframe
        self.ticks_per_bar, self.loop, self.cursor = ticks_per_bar, loop, cursor
        self.interval = seconds_per_bar / ticks_per_bar
        self._clock = {"sleep": sleep, "monotonic": monotonic, "now": now}

    def stream(self, *, stop: Callable[[], bool] = lambda: False) -> Iterator[Tick]:
        while not stop():
            ticks = replay_ticks(
                self.load(),
                symbol=self.symbol,
                timeframe=self.timeframe,
                ticks_per_bar=self.ticks_per_bar,
                after=self.cursor,
            )
            emitted = False
            for tick in paced(ticks, interval=self.interval, stop=stop, **self._clock):
                emitted = True
                self.cursor = ReplayCursor.of(tick)
                yield tick
            if stop() or not self.loop or (not emitted and self.cursor is None):
                return  # stopped, finished, or nothing stored to replay
            self.cursor = None  # next lap starts from the first bar
