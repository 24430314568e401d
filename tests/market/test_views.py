from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from apps.market.models import Asset, Candle, MarketImport
from apps.market.services import import_candles

from .samples import BAD_CSV, DATA, HOURLY_CSV

pytestmark = pytest.mark.django_db


def test_markets_page_lists_assets_with_honest_stale_prices(
    client: Client, alice: Any
) -> None:
    import_candles(fileobj=io.BytesIO(HOURLY_CSV), symbol="BTC-USD", timeframe="1h")
    client.force_login(alice)
    page = client.get("/markets/").content.decode()
    assert "BTC-USD" in page and "103.00" in page
    assert "stale: last bar 2019-07-01 03:00 UTC" in page
    assert "<polyline" in page


def test_markets_page_empty_state(client: Client, alice: Any) -> None:
    client.force_login(alice)
    assert "No market data yet" in client.get("/markets/").content.decode()


def test_upload_form_imports_and_shows_the_report(client: Client, alice: Any) -> None:
    client.force_login(alice)
    response = client.post(
        "/markets/",
        {
            "file": SimpleUploadedFile("bad.csv", BAD_CSV),
            "symbol": "BTC-USD",
            "timeframe": "1h",
        },
        follow=True,
    )
    body = response.content.decode()
    assert "Failed" in body
    assert ">3<" in body and "high" in body
    assert Candle.objects.count() == 0
    response = client.post(
        "/markets/",
        {
            "file": SimpleUploadedFile("bad.csv", BAD_CSV),
            "symbol": "BTC-USD",
            "timeframe": "1h",
            "skip_bad_rows": "on",
        },
        follow=True,
    )
    assert "Succeeded" in response.content.decode()
    assert Candle.objects.count() == 2


def test_upload_form_errors_are_400_not_500(client: Client, alice: Any) -> None:
    client.force_login(alice)
    response = client.post("/markets/", {"symbol": "nonsense", "timeframe": "1h"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required" in body and "BASE-QUOTE" in body


def test_viewer_sees_no_import_form_and_cannot_post(client: Client, vera: Any) -> None:
    client.force_login(vera)
    assert "Viewers cannot import data" in client.get("/markets/").content.decode()
    client.post(
        "/markets/",
        {
            "file": SimpleUploadedFile("h.csv", HOURLY_CSV),
            "symbol": "BTC-USD",
            "timeframe": "1h",
        },
    )
    assert MarketImport.objects.count() == 0


def test_asset_page_and_another_users_private_asset(
    client: Client, alice: Any, bob: Any
) -> None:
    import_candles(
        fileobj=io.BytesIO(HOURLY_CSV),
        symbol="DOGE-USD",
        timeframe="1h",
        actor=alice,
        asset_owner=alice,
    )
    record = MarketImport.objects.get()
    client.force_login(alice)
    page = client.get("/markets/DOGE-USD/?tf=1h&range=all")
    assert page.status_code == 200
    assert (
        b'id="price-chart"' in page.content
        and b"vendor/plotly/plotly.min.js" in page.content
    )
    client.force_login(bob)
    assert client.get("/markets/DOGE-USD/").status_code == 404
    assert client.get(f"/markets/imports/{record.pk}/").status_code == 404


def test_plotly_bundle_is_served_from_the_package(client: Client) -> None:
    response = client.get("/static/vendor/plotly/plotly.min.js")
    assert response.status_code == 200
    head = (
        b"".join(response.streaming_content)[:200]
        if response.streaming
        else response.content[:200]
    )
    assert b"plotly" in head.lower()


def test_import_command_writes_shared_data_and_fails_clearly(tmp_path: Any) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(BAD_CSV)
    with pytest.raises(CommandError, match="nothing was written"):
        call_command(
            "import_candles",
            str(path),
            "--symbol",
            "BTC-USD",
            "--timeframe",
            "1h",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    with pytest.raises(CommandError, match="no such file"):
        call_command(
            "import_candles",
            str(tmp_path / "none.csv"),
            "--symbol",
            "BTC-USD",
            "--timeframe",
            "1h",
        )
    out = io.StringIO()
    call_command(
        "import_candles",
        str(DATA / "bitfinex-1d-btc-usd.csv"),
        "--symbol",
        "BTC-USD",
        "--timeframe",
        "1d",
        stdout=out,
    )
    assert "1665 inserted" in out.getvalue()
    assert Asset.objects.get(symbol="BTC-USD").owner is None


def test_bootstrap_loads_the_samples_once() -> None:
    from apps.market.sample_data import load_sample_data

    lines = load_sample_data()
    assert len(lines) == 3
    btc = Asset.objects.get(symbol="BTC-USD", owner__isnull=True)
    assert Candle.objects.filter(asset=btc, timeframe="1h").count() == 17583
    assert Candle.objects.filter(asset=btc, timeframe="1d").count() == 1665
    assert (
        Candle.objects.filter(asset__symbol="ETH-USD", timeframe="1d").count() == 1319
    )
    assert load_sample_data() == []


def test_admin_lists_assets_candles_and_imports(client: Client, admin: Any) -> None:
    import_candles(fileobj=io.BytesIO(HOURLY_CSV), symbol="BTC-USD", timeframe="1h")
    client.force_login(admin)
    for url in [
        "/admin/market/asset/",
        "/admin/market/candle/",
        "/admin/market/marketimport/",
        "/admin/market/candle/?timeframe=1h",
    ]:
        assert client.get(url).status_code == 200, url
    candle = Candle.objects.first()
    assert (
        client.post(
            f"/admin/market/candle/{candle.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
