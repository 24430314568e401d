from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.market.parsing import parse
from apps.market.providers.base import Tick
from apps.market.providers.replay import (
    ReplayCursor,
    ReplayProvider,
    bar_path,
    paced,
    replay_ticks,
)

HOURLY = Path("/work/shared/data/market/bitfinex-1h-btc-usd.csv")
START = datetime(2019, 7, 4, tzinfo=UTC)


def D(value: str) -> Decimal:  # noqa: N802
    return Decimal(value)


@pytest.fixture(scope="module")
def candles() -> list[tuple]:
    with HOURLY.open() as fh:
        rows, _ = parse(fh)
    rows.sort(key=lambda r: r.open_time)
    return [(r.open_time, r.open, r.high, r.low, r.close, r.volume) for r in rows[:300]]


def test_rising_bar_goes_open_low_high_close_in_whole_units():
    # Prices given in units are kept in units: 8.5, 11.5 and 14.5 round half-even.
    assert bar_path(D("10"), D("16"), D("7"), D("13"), 7) == [
        D("10"),
        D("8"),
        D("7"),
        D("12"),
        D("16"),
        D("14"),
        D("13"),
    ]


def test_path_by_hand_with_decimals():
    # falling bar: open, high, low, close; 4 ticks are exactly the four prices
    assert bar_path(D("10.00"), D("12.50"), D("9.00"), D("9.50"), 4) == [
        D("10.00"),
        D("12.50"),
        D("9.00"),
        D("9.50"),
    ]
    # rising bar, 7 ticks: legs of 2, 2, 2 steps, midpoints rounded to cents
    assert bar_path(D("10.00"), D("16.00"), D("7.00"), D("13.00"), 7) == [
        D("10.00"),
        D("8.50"),
        D("7.00"),
        D("11.50"),
        D("16.00"),
        D("14.50"),
        D("13.00"),
    ]
    # 5 ticks: 4 steps, the first leg takes the extra one
    assert bar_path(D("1.0"), D("1.3"), D("0.7"), D("1.2"), 5) == [
        D("1.0"),
        D("0.8"),  # 1.0 + (0.7 - 1.0) / 2 = 0.85, half-even to 0.8
        D("0.7"),
        D("1.3"),
        D("1.2"),
    ]


prices = st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4)


@settings(max_examples=300, deadline=None)
@given(st.lists(prices, min_size=4, max_size=4), st.integers(4, 40))
def test_path_stays_inside_the_bar_and_ends_at_close(values, ticks):
    low, a, b, high = sorted(values)
    open_, close = (a, b) if values[0] < values[1] else (b, a)
    path = bar_path(open_, high, low, close, ticks)
    assert len(path) == ticks
    assert path[0] == open_ and path[-1] == close
    assert str(path[-1]) == str(close)  # the stored representation, not a rounding
    assert all(low <= p <= high for p in path)
    assert high in path and low in path  # both extremes are visited


def test_path_rejects_inconsistent_bars_and_bad_counts():
    with pytest.raises(ValueError, match="inconsistent"):
        bar_path(D("10"), D("9"), D("8"), D("9.5"), 6)
    with pytest.raises(ValueError, match="ticks per bar"):
        bar_path(D("10"), D("11"), D("9"), D("10"), 3)


def test_replay_ticks_follow_each_bar(candles):
    n = 6
    ticks = list(
        replay_ticks(candles, symbol="BTC-USD", timeframe="1h", ticks_per_bar=n)
    )
    assert len(ticks) == n * len(candles)
    for index, (time, o, h, low, c, _v) in enumerate(candles):
        bar_ticks = ticks[index * n : (index + 1) * n]
        assert {t.bar_time for t in bar_ticks} == {time}
        assert [t.tick_index for t in bar_ticks] == list(range(n))
        assert bar_ticks[0].price == o and bar_ticks[-1].price == c
        assert all(low <= t.price <= h for t in bar_ticks)
        assert bar_ticks[1].time == time + timedelta(minutes=10)
    assert {(t.source, t.symbol) for t in ticks} == {("replay", "BTC-USD")}


def test_replay_is_deterministic(candles):
    def run() -> list[Tick]:
        return list(
            replay_ticks(candles, symbol="X-USD", timeframe="1h", ticks_per_bar=9)
        )

    assert run() == run()


@pytest.mark.parametrize("stop_after", [1, 5, 6, 7, 100, 599])
def test_restart_from_cursor_continues_identically(candles, stop_after):
    full = list(replay_ticks(candles, symbol="BTC-USD", timeframe="1h"))
    first_run = list(
        itertools.islice(
            replay_ticks(candles, symbol="BTC-USD", timeframe="1h"), stop_after
        )
    )
    cursor = ReplayCursor.of(first_run[-1])
    resumed = list(
        replay_ticks(candles, symbol="BTC-USD", timeframe="1h", after=cursor)
    )
    assert first_run + resumed == full


def test_replay_accepts_objects_and_floats():
    class Candle:
        open_time = START
        open, high, low, close, volume = 11849.99, 11880.0, 11790.01, 11849.69, 3.0

    ticks = list(
        replay_ticks([Candle()], symbol="BTC-USD", timeframe="1h", ticks_per_bar=4)
    )
    assert [t.price for t in ticks] == [
        D("11849.99"),
        D("11880.0"),  # falling bar: open, high, low, close
        D("11790.01"),
        D("11849.69"),
    ]


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.now)


def test_paced_spaces_ticks_and_restamps_them(candles):
    clock = FakeTime()
    source = replay_ticks(
        candles[:2], symbol="BTC-USD", timeframe="1h", ticks_per_bar=4
    )
    out = list(
        paced(
            source,
            interval=0.25,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
            now=clock.wall,
        )
    )
    assert len(out) == 8
    assert clock.sleeps == [0.25] * 7  # one 1h bar per second, 4 ticks a bar
    assert out[1].time - out[0].time == timedelta(seconds=0.25)
    assert out[0].bar_time == candles[0][0]


def test_paced_does_not_drift_when_the_consumer_is_slow(candles):
    clock = FakeTime()
    source = replay_ticks(
        candles[:1], symbol="BTC-USD", timeframe="1h", ticks_per_bar=4
    )
    for _tick in paced(
        source, interval=1.0, sleep=clock.sleep, monotonic=clock.monotonic
    ):
        clock.now += 0.4  # work done per tick
    assert clock.sleeps == pytest.approx([0.6, 0.6, 0.6])


def test_provider_loops_and_stops(candles):
    clock = FakeTime()
    provider = ReplayProvider(
        lambda: candles[:2],
        symbol="BTC-USD",
        timeframe="1h",
        ticks_per_bar=4,
        seconds_per_bar=1.0,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        now=clock.wall,
    )
    ticks = list(itertools.islice(provider.stream(), 10))
    assert [t.bar_time for t in ticks[8:]] == [candles[0][0]] * 2  # second lap
    assert provider.cursor == ReplayCursor(candles[0][0], 1)
    stopped = list(provider.stream(stop=lambda: True))
    assert stopped == []


def test_provider_with_nothing_stored_ends():
    provider = ReplayProvider(lambda: [], symbol="BTC-USD", timeframe="1h")
    assert list(provider.stream()) == []


def test_tick_validation():
    with pytest.raises(ValueError, match="aware UTC"):
        Tick("BTC-USD", D("1"), datetime(2019, 1, 1), "live")  # noqa: DTZ001
    with pytest.raises(ValueError, match="positive Decimal"):
        Tick("BTC-USD", D("0"), START, "live")
    with pytest.raises(ValueError, match="bar_time"):
        Tick("BTC-USD", D("1"), START, "replay")
    with pytest.raises(ValueError, match="unknown tick source"):
        Tick("BTC-USD", D("1"), START, "paper")  # type: ignore[arg-type]
