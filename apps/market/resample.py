"""Resample OHLCV bars to higher timeframes and report missing bars.

Plain functions over rows or numpy arrays, no Django, so services, commands and the
backtest engine share them.

Buckets sit on UTC boundaries counted from the Unix epoch: 4h buckets start at 00:00,
04:00, ... UTC and 1d buckets at midnight UTC (every timeframe here divides a day, and
the epoch is a UTC midnight, so flooring epoch seconds is exact).

Every bucket that holds at least one source bar is emitted, with ``complete`` telling
whether it holds all the source bars it should (a 4h bucket from 1h bars needs 4).
Partial buckets at the edges of the data, or around a hole, are therefore emitted but
marked incomplete; callers that store or chart only finished bars pass
``complete_only=True``. We emit rather than drop because dropping would silently lose
the newest, still-forming bar a trader wants to see.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import numpy as np

TIMEFRAME_SECONDS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "4h": 14400,
    "1d": 86400,
}

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Number = Decimal | float


class BarLike(Protocol):
    """Anything with OHLCV attributes: ParsedRow, a Candle model instance, Bar."""

    open_time: datetime
    open: Number
    high: Number
    low: Number
    close: Number
    volume: Number | None


@dataclass(frozen=True, slots=True)
class ResampledBar:
    open_time: datetime
    open: Number
    high: Number
    low: Number
    close: Number
    volume: Number | None
    count: int  # source bars in the bucket
    expected: int  # source bars a full bucket holds
    complete: bool


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing bars: open times ``start``, ``start + step``, ... before ``end``.

    ``end`` is exclusive, so ``count == (end - start) / step``.
    """

    start: datetime
    end: datetime
    count: int


def timeframe_seconds(timeframe: str) -> int:
    try:
        return TIMEFRAME_SECONDS[timeframe]
    except KeyError:
        known = " ".join(TIMEFRAME_SECONDS)
        raise ValueError(
            f"unknown timeframe {timeframe!r} (use one of {known})"
        ) from None


def epoch_seconds(moment: datetime) -> int:
    _require_aware(moment)
    return (moment - EPOCH) // timedelta(seconds=1)


def bucket_start(moment: datetime, timeframe: str) -> datetime:
    """The open time of the ``timeframe`` bucket holding ``moment`` (UTC boundaries)."""
    step = timeframe_seconds(timeframe)
    seconds = epoch_seconds(moment)
    return EPOCH + timedelta(seconds=seconds - seconds % step)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"naive datetime {moment.isoformat()}: times must be UTC-aware"
        )


def _ratio(source: str, target: str) -> int:
    src, dst = timeframe_seconds(source), timeframe_seconds(target)
    if dst <= src or dst % src:
        raise ValueError(f"cannot resample {source} bars to {target}")
    return dst // src


class _Bucket:
    __slots__ = ("start", "open", "high", "low", "close", "volume", "count")

    def __init__(self, start: datetime, bar: BarLike) -> None:
        self.start = start
        self.open, self.high, self.low = bar.open, bar.high, bar.low
        self.close, self.volume, self.count = bar.close, bar.volume, 1

    def add(self, bar: BarLike) -> None:
        self.high = max(self.high, bar.high)
        self.low = min(self.low, bar.low)
        self.close = bar.close
        # One bar without volume makes the bucket's volume unknown, not smaller.
        if self.volume is None or bar.volume is None:
            self.volume = None
        else:
            self.volume = self.volume + bar.volume
        self.count += 1

    def emit(self, expected: int) -> ResampledBar:
        return ResampledBar(
            open_time=self.start,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            count=self.count,
            expected=expected,
            complete=self.count == expected,
        )


def resample(
    bars: Iterable[BarLike],
    source: str,
    target: str,
    *,
    complete_only: bool = False,
) -> Iterator[ResampledBar]:
    """Aggregate ``source`` bars, sorted oldest first, into ``target`` buckets.

    Streams: memory is one bucket. Keeps the number type of the input (Decimal in,
    Decimal out). Raises ValueError on unsorted or duplicate open times, because
    either would make the aggregate wrong without any visible sign.
    """
    expected = _ratio(source, target)
    current: _Bucket | None = None
    previous: datetime | None = None
    for bar in bars:
        if previous is not None and bar.open_time <= previous:
            raise ValueError(
                f"bars must be sorted oldest first without duplicates: "
                f"{bar.open_time.isoformat()} follows {previous.isoformat()}"
            )
        previous = bar.open_time
        start = bucket_start(bar.open_time, target)
        if current is not None and current.start == start:
            current.add(bar)
            continue
        if current is not None and (not complete_only or current.count == expected):
            yield current.emit(expected)
        current = _Bucket(start, bar)
    if current is not None and (not complete_only or current.count == expected):
        yield current.emit(expected)


@dataclass(frozen=True)
class ResampledArrays:
    """Column form of resampled bars; ``time`` is epoch seconds of each bucket."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    count: np.ndarray
    complete: np.ndarray


def resample_arrays(
    time: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    source: str,
    target: str,
) -> ResampledArrays:
    """The float64 twin of :func:`resample` for the backtest engine and charts.

    ``time`` holds epoch seconds, strictly increasing. Incomplete buckets are kept and
    flagged in ``complete``, as in :func:`resample`.
    """
    expected = _ratio(source, target)
    step = timeframe_seconds(target)
    t = np.asarray(time, dtype=np.int64)
    if t.size == 0:
        empty = np.empty(0)
        return ResampledArrays(
            t, empty, empty, empty, empty, empty, t.copy(), np.empty(0, dtype=bool)
        )
    if np.any(np.diff(t) <= 0):
        raise ValueError("times must be strictly increasing")
    buckets = t - t % step
    # Indices where a new bucket begins; reduceat aggregates each slice.
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], t.size]
    count = ends - starts

    def col(values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)

    return ResampledArrays(
        time=buckets[starts],
        open=col(open_)[starts],
        high=np.maximum.reduceat(col(high), starts),
        low=np.minimum.reduceat(col(low), starts),
        close=col(close)[ends - 1],
        volume=np.add.reduceat(col(volume), starts),
        count=count,
        complete=count == expected,
    )


def find_gaps(
    open_times: Iterable[datetime],
    timeframe: str,
    start: datetime,
    end: datetime,
) -> list[Gap]:
    """Missing bars among the grid open times in ``[start, end)``.

    The grid is the timeframe's UTC boundaries; ``start`` is rounded up onto it.
    ``open_times`` must be sorted oldest first (a DB query ordered by open_time);
    times outside the range are ignored. A time off the grid raises ValueError:
    it means the wrong timeframe, and guessing would hide that.
    """
    step = timeframe_seconds(timeframe)
    lo, hi = epoch_seconds(start), epoch_seconds(end)
    expect = lo + (-lo) % step  # first grid point at or after start
    gaps: list[Gap] = []
    previous: int | None = None
    for moment in open_times:
        seconds = epoch_seconds(moment)
        if seconds % step:
            raise ValueError(f"{moment.isoformat()} is not on the {timeframe} grid")
        if previous is not None and seconds <= previous:
            raise ValueError(
                "open times must be sorted oldest first without duplicates"
            )
        previous = seconds
        if seconds < expect or seconds >= hi:
            continue
        if seconds > expect:
            gaps.append(_gap(expect, seconds, step))
        expect = seconds + step
    if expect < hi:
        last = hi + (-hi) % step  # the last expected bar opens before ``end``
        gaps.append(_gap(expect, last, step))
    return gaps


def _gap(first: int, stop: int, step: int) -> Gap:
    return Gap(
        start=EPOCH + timedelta(seconds=first),
        end=EPOCH + timedelta(seconds=stop),
        count=(stop - first) // step,
    )


def missing_count(gaps: Sequence[Gap]) -> int:
    return sum(gap.count for gap in gaps)
