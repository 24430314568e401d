from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.market.models import Asset, MarketImport
from apps.market.prices import store_tick
from apps.market.services import Bar, import_candles, upsert_candles

from .samples import BAD_CSV, HOURLY_CSV

pytestmark = pytest.mark.django_db
START = datetime(2019, 1, 1, tzinfo=UTC)


@pytest.fixture
def btc() -> Asset:
    asset = Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")
    bars = [
        Bar(START + timedelta(hours=i), 100 + i, 101 + i, 99 + i, 100.5 + i, float(i))
        for i in range(30)
    ]
    upsert_candles(asset=asset, timeframe="1h", bars=bars)
    return asset


def test_assets_list_and_detail(api: APIClient, alice: Any, btc: Asset) -> None:
    api.force_authenticate(alice)
    listing = api.get("/api/market/assets/").json()
    assert [a["symbol"] for a in listing] == ["BTC-USD"]
    detail = api.get("/api/market/assets/btc-usd/").json()
    assert detail["timeframes"][0]["count"] == 30
    assert detail["last_close"] == 129.5
    # 24 h change from the bar 24 hours before the last one: 129.5 / 105.5 - 1.
    assert detail["change_24h"] == pytest.approx(129.5 / 105.5 - 1)


def test_candles_are_bounded_and_paginated(
    api: APIClient, alice: Any, btc: Asset
) -> None:
    api.force_authenticate(alice)
    url = "/api/market/assets/BTC-USD/candles/?timeframe=1h&limit=12"
    seen = []
    while url:
        page = api.get(url).json()
        seen += [row["time"] for row in page["results"]]
        url = page["next"]
    assert len(seen) == 30 and len(set(seen)) == 30
    assert seen == sorted(seen)
    window = api.get(
        "/api/market/assets/BTC-USD/candles/?timeframe=1h"
        "&start=2019-01-01T05:00:00Z&end=2019-01-01T08:00:00Z"
    ).json()
    assert [r["close"] for r in window["results"]] == [105.5, 106.5, 107.5]


@pytest.mark.parametrize(
    "query",
    [
        "timeframe=2h",
        "",
        "timeframe=1h&limit=0",
        "timeframe=1h&limit=5001",
        "timeframe=1h&limit=abc",
        "timeframe=1h&start=yesterday",
        "timeframe=1h&start=2019-01-02T00:00:00Z&end=2019-01-01T00:00:00Z",
    ],
)
def test_bad_candle_queries_are_400(
    api: APIClient, alice: Any, btc: Asset, query: str
) -> None:
    api.force_authenticate(alice)
    response = api.get(f"/api/market/assets/BTC-USD/candles/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_price_falls_back_to_the_last_candle_marked_stale(
    api: APIClient, alice: Any, btc: Asset
) -> None:
    api.force_authenticate(alice)
    quote = api.get("/api/market/assets/BTC-USD/price/").json()
    assert quote["price"] == 129.5 and quote["source"] == "candle" and quote["stale"]
    store_tick(
        asset_id=btc.pk,
        price=130.25,
        time=datetime.now(UTC),
        source="replay",
        replay_time=START + timedelta(hours=30),
    )
    quote = api.get("/api/market/assets/BTC-USD/price/").json()
    assert (
        quote["price"] == 130.25 and quote["source"] == "replay" and not quote["stale"]
    )
    assert quote["replay_time"].startswith("2019-01-02T06:00")


def test_import_endpoint_reports_success_and_failure(
    api: APIClient, alice: Any
) -> None:
    api.force_authenticate(alice)
    good = api.post(
        "/api/market/imports/",
        {
            "file": SimpleUploadedFile("h.csv", HOURLY_CSV),
            "symbol": "BTC-USD",
            "timeframe": "1h",
        },
        format="multipart",
    )
    assert good.status_code == 201 and good.json()["inserted"] == 3
    bad = api.post(
        "/api/market/imports/",
        {
            "file": SimpleUploadedFile("b.csv", BAD_CSV),
            "symbol": "BTC-USD",
            "timeframe": "1h",
        },
        format="multipart",
    )
    assert bad.status_code == 400
    assert bad.json()["status"] == "failed" and bad.json()["error_count"] == 2
    listing = api.get("/api/market/imports/").json()["results"]
    assert len(listing) == 2
    assert api.get(f"/api/market/imports/{good.json()['id']}/").status_code == 200


def test_import_endpoint_validates_fields(api: APIClient, alice: Any) -> None:
    api.force_authenticate(alice)
    response = api.post(
        "/api/market/imports/",
        {
            "file": SimpleUploadedFile("h.csv", HOURLY_CSV),
            "symbol": "BTCUSD",
            "timeframe": "7m",
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) >= {"timeframe"}
    assert MarketImport.objects.count() == 0


def test_viewers_cannot_import(api: APIClient, vera: Any) -> None:
    api.force_authenticate(vera)
    response = api.post(
        "/api/market/imports/",
        {
            "file": SimpleUploadedFile("h.csv", HOURLY_CSV),
            "symbol": "BTC-USD",
            "timeframe": "1h",
        },
        format="multipart",
    )
    assert response.status_code == 403


def test_another_users_private_asset_and_imports_are_404(
    api: APIClient, alice: Any, bob: Any
) -> None:
    record = import_candles(
        fileobj=io.BytesIO(HOURLY_CSV),
        symbol="DOGE-USD",
        timeframe="1h",
        actor=alice,
        asset_owner=alice,
    )
    api.force_authenticate(bob)
    for url in [
        "/api/market/assets/DOGE-USD/",
        "/api/market/assets/DOGE-USD/candles/?timeframe=1h",
        "/api/market/assets/DOGE-USD/price/",
        f"/api/market/imports/{record.pk}/",
    ]:
        assert api.get(url).status_code == 404, url
    assert api.get("/api/market/imports/").json()["results"] == []
    assert "DOGE-USD" not in [
        a["symbol"] for a in api.get("/api/market/assets/").json()
    ]
    api.force_authenticate(alice)
    assert api.get("/api/market/assets/DOGE-USD/").status_code == 200


def test_market_api_needs_authentication(api: APIClient, btc: Asset) -> None:
    for url in [
        "/api/market/assets/",
        "/api/market/assets/BTC-USD/candles/?timeframe=1h",
        "/api/market/imports/",
    ]:
        assert api.get(url).status_code == 401
