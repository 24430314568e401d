from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from rest_framework.test import APIClient

from apps.market.models import Asset, Candle
from apps.market.sample_data import DATA_DIR
from apps.market.services import (
    Bar,
    MarketDataError,
    gap_report,
    import_candles,
    resample_candles,
    upsert_candles,
)

pytestmark = pytest.mark.django_db
START = datetime(2019, 1, 1, tzinfo=UTC)


def hourly(asset: Asset, hours: list[int]) -> None:
    upsert_candles(
        asset=asset,
        timeframe="1h",
        bars=[
            Bar(START + timedelta(hours=h), 100 + h, 110 + h, 90 + h, 105 + h, 1.0 + h)
            for h in hours
        ],
    )


def test_resampled_sample_data_matches_pandas() -> None:
    with open(DATA_DIR / "bitfinex-1h-btc-usd.csv", "rb") as fh:
        import_candles(fileobj=fh, symbol="BTC-USD", timeframe="1h")
    asset = Asset.objects.get(symbol="BTC-USD")
    resample_candles(asset=asset, source="1h", target="4h")
    ours = pd.DataFrame.from_records(
        Candle.objects.series(asset, "4h").values(
            "open_time", "open", "high", "low", "close", "volume"
        )
    ).set_index("open_time")
    src = pd.DataFrame.from_records(
        Candle.objects.series(asset, "1h").values(
            "open_time", "open", "high", "low", "close", "volume"
        )
    ).set_index("open_time")
    ref = src.resample("4h", origin="epoch").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    counts = src["open"].resample("4h", origin="epoch").count()
    ref = ref[counts == 4]  # only complete buckets are stored
    ref.index = ref.index.tz_convert("UTC")
    ours.index = pd.DatetimeIndex(ours.index).tz_convert("UTC")
    assert len(ours) == len(ref) > 4000
    pd.testing.assert_frame_equal(
        ours, ref, check_freq=False, check_names=False, rtol=1e-12, atol=1e-9
    )


def test_buckets_with_a_missing_bar_are_not_written_and_gaps_are_reported() -> None:
    asset = Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")
    hours = [h for h in range(12) if h not in (5, 6)]
    hourly(asset, hours)
    result = resample_candles(asset=asset, source="1h", target="4h")
    assert result.inserted == 2  # 00-04 and 08-12 complete; 04-08 lacks two bars
    bar = Candle.objects.series(asset, "4h").first()
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        100,
        113,
        90,
        108,
        10,
    )
    gaps = gap_report(asset=asset, timeframe="1h")
    assert [(g.start.hour, g.count) for g in gaps] == [(5, 2)]
    again = resample_candles(asset=asset, source="1h", target="4h")
    assert (again.inserted, again.unchanged) == (0, 2)


def test_cannot_resample_downwards_or_nothing() -> None:
    asset = Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")
    with pytest.raises(MarketDataError, match="no 1h bars"):
        resample_candles(asset=asset, source="1h", target="1d")
    with pytest.raises(MarketDataError, match="cannot resample"):
        resample_candles(asset=asset, source="1d", target="1h")


def test_gaps_and_resample_api(api: APIClient, alice: Any, admin: Any) -> None:
    asset = Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")
    hourly(asset, [0, 1, 4])
    api.force_authenticate(alice)
    body = api.get("/api/market/assets/BTC-USD/gaps/?timeframe=1h").json()
    assert body["missing"] == 2 and body["gaps"][0]["count"] == 2
    assert api.get("/api/market/assets/BTC-USD/gaps/?timeframe=9h").status_code == 400
    denied = api.post(
        "/api/market/assets/BTC-USD/resample/",
        {"source": "1h", "target": "4h"},
        format="json",
    )
    assert denied.status_code == 403
    api.force_authenticate(admin)
    ok = api.post(
        "/api/market/assets/BTC-USD/resample/",
        {"source": "1h", "target": "4h"},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["inserted"] == 0  # no complete bucket
    bad = api.post(
        "/api/market/assets/BTC-USD/resample/",
        {"source": "1d", "target": "1h"},
        format="json",
    )
    assert bad.status_code == 400
