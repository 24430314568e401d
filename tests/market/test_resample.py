from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apps.market.parsing import parse, read_arrays
from apps.market.resample import (
    TIMEFRAME_SECONDS,
    Gap,
    bucket_start,
    find_gaps,
    missing_count,
    resample,
    resample_arrays,
)

DATA = Path("/work/shared/data/market")
HOURLY = DATA / "bitfinex-1h-btc-usd.csv"
DAILY = DATA / "bitfinex-1d-btc-usd.csv"
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass(frozen=True)
class Bar:
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None


def bar(hour: int, o: str, h: str, low: str, c: str, v: str | None = "1") -> Bar:
    return Bar(
        utc(2019, 7, 4) + hour * HOUR,
        Decimal(o),
        Decimal(h),
        Decimal(low),
        Decimal(c),
        None if v is None else Decimal(v),
    )


@pytest.fixture(scope="module")
def hourly_rows() -> list:
    with HOURLY.open() as fh:
        rows, report = parse(fh)
    assert report.ok
    return sorted(rows, key=lambda r: r.open_time)


@pytest.fixture(scope="module")
def hourly_frame() -> pd.DataFrame:
    frame = pd.read_csv(HOURLY)
    frame.index = pd.to_datetime(frame["Date"], utc=True)
    return frame.sort_index()


def pandas_resample(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    # The independent reference: pandas buckets from the epoch, left-closed/labelled.
    grouped = frame.resample(rule, origin="epoch", label="left", closed="left")
    out = pd.DataFrame(
        {
            "open": grouped["Open"].first(),
            "high": grouped["High"].max(),
            "low": grouped["Low"].min(),
            "close": grouped["Close"].last(),
            "volume": grouped["VolumeFrom"].sum(),
            "count": grouped["Open"].count(),
        }
    )
    return out[out["count"] > 0]


@pytest.mark.parametrize(
    ("target", "rule", "full"), [("4h", "4h", 4), ("1d", "24h", 24)]
)
def test_resample_rows_matches_pandas(hourly_rows, hourly_frame, target, rule, full):
    ours = list(resample(hourly_rows, "1h", target))
    ref = pandas_resample(hourly_frame, rule)
    assert len(ours) == len(ref)
    assert [b.open_time for b in ours] == [t.to_pydatetime() for t in ref.index]
    for name in ("open", "high", "low", "close"):
        values = np.array([float(getattr(b, name)) for b in ours])
        np.testing.assert_array_equal(values, ref[name].to_numpy())
    volumes = np.array([float(b.volume) for b in ours])
    np.testing.assert_allclose(volumes, ref["volume"].to_numpy(), rtol=1e-12)
    assert [b.count for b in ours] == ref["count"].tolist()
    assert [b.complete for b in ours] == (ref["count"] == full).tolist()
    # the sample starts at 11:00 and ends at 01:00: both edge buckets are partial
    assert not ours[0].complete and not ours[-1].complete
    assert isinstance(ours[0].close, Decimal)


def test_resample_arrays_matches_pandas(hourly_frame):
    with HOURLY.open() as fh:
        a = read_arrays(fh)
    ours = resample_arrays(a.time, a.open, a.high, a.low, a.close, a.volume, "1h", "4h")
    ref = pandas_resample(hourly_frame, "4h")
    epoch = (ref.index - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s")
    np.testing.assert_array_equal(ours.time, epoch.to_numpy())
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(ours, name), ref[name].to_numpy())
    np.testing.assert_allclose(ours.volume, ref["volume"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ours.complete, (ref["count"] == 4).to_numpy())


def test_resample_hand_case_with_partial_last_bucket():
    bars = [
        bar(0, "10", "12", "9", "11", "1"),
        bar(1, "11", "15", "10", "14", "2"),
        bar(2, "14", "14", "8", "9", "3"),
        bar(3, "9", "10", "8.5", "10", "4"),
        bar(4, "10", "11", "10", "10.5", "5"),
        bar(5, "10.5", "13", "10", "12", "6"),
    ]
    first, second = resample(bars, "1h", "4h")
    assert (first.open_time, first.open, first.high, first.low, first.close) == (
        utc(2019, 7, 4),
        Decimal("10"),
        Decimal("15"),
        Decimal("8"),
        Decimal("10"),
    )
    assert (first.volume, first.count, first.complete) == (Decimal("10"), 4, True)
    assert (second.open_time, second.high, second.close, second.volume) == (
        utc(2019, 7, 4, 4),
        Decimal("13"),
        Decimal("12"),
        Decimal("11"),
    )
    assert (second.count, second.expected, second.complete) == (2, 4, False)
    assert [b.open_time for b in resample(bars, "1h", "4h", complete_only=True)] == [
        utc(2019, 7, 4)
    ]


def test_resample_unknown_volume_stays_unknown():
    bars = [bar(0, "1", "1", "1", "1", "2"), bar(1, "1", "1", "1", "1", None)]
    assert next(resample(bars, "1h", "4h")).volume is None


def test_resample_rejects_unsorted_and_impossible_targets():
    bars = [bar(1, "1", "1", "1", "1"), bar(0, "1", "1", "1", "1")]
    with pytest.raises(ValueError, match="sorted oldest first"):
        list(resample(bars, "1h", "4h"))
    with pytest.raises(ValueError, match="cannot resample 4h bars to 1h"):
        list(resample([], "4h", "1h"))
    with pytest.raises(ValueError, match="unknown timeframe"):
        list(resample([], "1h", "2h"))


def test_bucket_start_uses_utc_boundaries():
    assert bucket_start(utc(2019, 7, 4, 13, 59), "4h") == utc(2019, 7, 4, 12)
    assert bucket_start(utc(2019, 7, 4, 23, 59, 59), "1d") == utc(2019, 7, 4)
    assert bucket_start(utc(2019, 7, 4, 13, 7), "5m") == utc(2019, 7, 4, 13, 5)
    plus2 = datetime(2019, 7, 5, 3, tzinfo=timezone(timedelta(hours=2)))
    assert bucket_start(plus2, "1d") == utc(2019, 7, 5)  # 03:00+02:00 is 01:00 UTC
    with pytest.raises(ValueError, match="naive"):
        bucket_start(datetime(2019, 7, 4), "1h")  # noqa: DTZ001


def test_timeframes():
    assert TIMEFRAME_SECONDS == {
        "1m": 60,
        "5m": 300,
        "15m": 900,
        "1h": 3600,
        "4h": 14400,
        "1d": 86400,
    }


# ---------------------------------------------------------------- gaps


def test_daily_sample_gap_matches_pandas():
    with DAILY.open() as fh:
        rows, _ = parse(fh)
    times = sorted(r.open_time for r in rows)
    gaps = find_gaps(times, "1d", times[0], times[-1] + timedelta(days=1))
    # Independent: every day in the span that pandas does not find in the file.
    span = pd.date_range(times[0], times[-1], freq="1D")
    missing = span.difference(pd.DatetimeIndex(times))
    assert missing_count(gaps) == len(missing) == 12
    assert gaps == [Gap(utc(2019, 3, 20), utc(2019, 4, 1), 12)]
    assert gaps[0].start == missing[0].to_pydatetime()


def test_hourly_sample_has_no_gaps(hourly_rows):
    times = [r.open_time for r in hourly_rows]
    assert find_gaps(times, "1h", times[0], times[-1] + HOUR) == []


def test_gaps_hand_cases():
    times = [utc(2019, 7, 4, h) for h in (2, 3, 6, 7)]
    gaps = find_gaps(times, "1h", utc(2019, 7, 4), utc(2019, 7, 4, 10))
    assert gaps == [
        Gap(utc(2019, 7, 4, 0), utc(2019, 7, 4, 2), 2),  # before the first bar
        Gap(utc(2019, 7, 4, 4), utc(2019, 7, 4, 6), 2),  # inside
        Gap(utc(2019, 7, 4, 8), utc(2019, 7, 4, 10), 2),  # after the last bar
    ]


def test_gaps_range_edges_off_the_grid():
    # [00:30, 03:30): expected bars at 01:00, 02:00 and 03:00
    gaps = find_gaps(
        [utc(2019, 7, 4, 2)], "1h", utc(2019, 7, 4, 0, 30), utc(2019, 7, 4, 3, 30)
    )
    assert gaps == [
        Gap(utc(2019, 7, 4, 1), utc(2019, 7, 4, 2), 1),
        Gap(utc(2019, 7, 4, 3), utc(2019, 7, 4, 4), 1),
    ]
    assert find_gaps([], "1d", utc(2019, 7, 4), utc(2019, 7, 4)) == []


def test_gaps_ignore_times_outside_range_and_reject_bad_input():
    times = [
        utc(2019, 7, 3, 23),
        utc(2019, 7, 4),
        utc(2019, 7, 4, 1),
        utc(2019, 7, 4, 5),
    ]
    assert find_gaps(times, "1h", utc(2019, 7, 4), utc(2019, 7, 4, 2)) == []
    with pytest.raises(ValueError, match="not on the 4h grid"):
        find_gaps([utc(2019, 7, 4, 1)], "4h", utc(2019, 7, 4), utc(2019, 7, 5))
    with pytest.raises(ValueError, match="sorted"):
        find_gaps(
            [utc(2019, 7, 4, 1), utc(2019, 7, 4)],
            "1h",
            utc(2019, 7, 4),
            utc(2019, 7, 5),
        )
