from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from apps.audit.models import AuditLog
from apps.market.models import Asset, Candle, MarketImport
from apps.market.services import (
    Bar,
    MarketDataError,
    import_candles,
    parse_symbol,
    upsert_candles,
)

from .samples import BAD_CSV, DATA, HOURLY_CSV

pytestmark = pytest.mark.django_db


def t(hour: int) -> datetime:
    return datetime(2019, 7, 1, hour, tzinfo=UTC)


def shared_btc() -> Asset:
    return Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")


def test_upsert_is_idempotent_and_counts_what_changed() -> None:
    asset = shared_btc()
    bars = [Bar(t(h), 100 + h, 101 + h, 99 + h, 100.5 + h, 1.0) for h in range(3)]
    first = upsert_candles(asset=asset, timeframe="1h", bars=bars)
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    snapshot = list(Candle.objects.values_list("id", "open", "close"))
    second = upsert_candles(asset=asset, timeframe="1h", bars=bars)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 3)
    assert list(Candle.objects.values_list("id", "open", "close")) == snapshot
    revised = [*bars[:2], Bar(t(2), 102, 104, 101, 103.25, 2.0)]
    third = upsert_candles(asset=asset, timeframe="1h", bars=revised)
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 2)
    assert Candle.objects.get(open_time=t(2)).close == 103.25


@pytest.mark.parametrize(
    ("o", "h", "lo", "c"),
    [
        (100, 99, 98, 99.5),  # high below open
        (100, 101, 100.5, 100.8),  # low above open
        (0, 1, 0, 1),  # zero price
        (-1, 1, -2, 0.5),  # negative
    ],
)
def test_database_refuses_insane_bars(o: float, h: float, lo: float, c: float) -> None:
    asset = shared_btc()
    with pytest.raises(IntegrityError), transaction.atomic():
        Candle.objects.create(
            asset=asset,
            timeframe="1h",
            open_time=t(0),
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=1,
        )


def test_one_bar_per_asset_timeframe_and_time() -> None:
    asset = shared_btc()
    Candle.objects.create(
        asset=asset, timeframe="1h", open_time=t(0), open=1, high=1, low=1, close=1
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Candle.objects.create(
            asset=asset, timeframe="1h", open_time=t(0), open=2, high=2, low=2, close=2
        )


def test_import_reads_a_cryptodatadownload_file_newest_first(alice: Any) -> None:
    record = import_candles(
        fileobj=io.BytesIO(HOURLY_CSV),
        symbol="btc-usd",
        timeframe="1h",
        actor=alice,
        asset_owner=alice,
        filename="hourly.csv",
    )
    assert record.status == "succeeded", record.message
    assert (record.inserted, record.rows_read, record.error_count) == (3, 3, 0)
    asset = Asset.objects.get(owner=alice, symbol="BTC-USD")
    closes = list(
        Candle.objects.series(asset, "1h").values_list("open_time", "close", "volume")
    )
    # Hand-checked against the file text: base volume (BTC), oldest first.
    assert closes == [(t(1), 101.0, 3.0), (t(2), 102.0, 4.0), (t(3), 103.0, 5.5)]
    assert AuditLog.objects.get(action="market.imported").details["inserted"] == 3


def test_import_with_bad_rows_writes_nothing_and_lists_them(alice: Any) -> None:
    record = import_candles(
        fileobj=io.BytesIO(BAD_CSV),
        symbol="BTC-USD",
        timeframe="1h",
        actor=alice,
        asset_owner=alice,
    )
    assert record.status == MarketImport.Status.FAILED
    assert record.error_count == 2
    assert [e["line"] for e in record.errors] == [3, 4]
    assert "high" in record.errors[0]["reason"]
    assert "nothing was written" in record.message
    assert Candle.objects.count() == 0
    assert not Asset.objects.filter(owner=alice).exists()
    assert not AuditLog.objects.filter(action="market.imported").exists()


def test_import_can_skip_bad_rows_when_asked(alice: Any) -> None:
    record = import_candles(
        fileobj=io.BytesIO(BAD_CSV),
        symbol="BTC-USD",
        timeframe="1h",
        actor=alice,
        asset_owner=alice,
        skip_bad_rows=True,
    )
    assert record.status == "succeeded"
    assert (record.inserted, record.skipped) == (2, 2)
    assert Candle.objects.count() == 2


def test_a_file_that_is_not_ohlcv_fails_clearly(alice: Any) -> None:
    record = import_candles(
        fileobj=io.BytesIO(b"name,age\nbob,3\n"),
        symbol="BTC-USD",
        timeframe="1h",
        actor=alice,
        asset_owner=alice,
    )
    assert record.status == "failed" and record.message
    assert Candle.objects.count() == 0


@pytest.mark.parametrize(
    "symbol", ["BTCUSD", "btc-usd-x", "", "BTC/USD", "A" * 20 + "-USD"]
)
def test_bad_symbols_are_refused(symbol: str) -> None:
    with pytest.raises(MarketDataError):
        parse_symbol(symbol)


def test_a_traders_import_never_touches_shared_data(alice: Any, bob: Any) -> None:
    shared = shared_btc()
    upsert_candles(
        asset=shared, timeframe="1h", bars=[Bar(t(1), 100.0, 102.0, 99.0, 101.0, 3.0)]
    )
    altered = HOURLY_CSV.replace(b"100.0,102.0,99.0,101.0", b"100.0,150.0,99.0,149.0")
    import_candles(
        fileobj=io.BytesIO(altered),
        symbol="BTC-USD",
        timeframe="1h",
        actor=alice,
        asset_owner=alice,
    )
    assert Candle.objects.get(asset=shared).close == 101.0
    assert Asset.objects.resolve(alice, "BTC-USD").owner == alice
    assert Asset.objects.resolve(bob, "BTC-USD") == shared


def test_wide_file_imports_the_chosen_asset() -> None:
    with open(DATA / "bitfinex-1d-btc-eth-usd-wide.csv", "rb") as fh:
        record = import_candles(fileobj=fh, symbol="ETH-USD", timeframe="1d")
    assert record.status == "succeeded", record.message
    asset = Asset.objects.get(symbol="ETH-USD", owner__isnull=True)
    first = Candle.objects.series(asset, "1d").first()
    # ETH starts trading on 2016-05-27 in this file; rows before are not errors.
    assert first.open_time == datetime(2016, 5, 27, tzinfo=UTC)
    assert record.error_count == 0


def test_quote_only_volume_is_imported_with_a_warning(alice: Any) -> None:
    text = (
        b"date,open,high,low,close,Volume USD\n"
        b"2019-07-01 00:00,100,101,99,100.5,1000\n"
        b"2019-07-01 01:00,100.5,102,100,101,2000\n"
    )
    record = import_candles(
        fileobj=io.BytesIO(text),
        symbol="BTC-USD",
        timeframe="1h",
        actor=alice,
        asset_owner=alice,
    )
    assert record.status == "succeeded"
    assert "quote currency" in record.message
