"""Backtest and sweep pages: forms, results, owner scoping, CSV export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client

from apps.backtests import services
from apps.backtests.models import Backtest, Sweep

pytestmark = pytest.mark.django_db
FORM = {
    "symbol": "BTC-USD",
    "timeframe": "1h",
    "strategy": "sma_cross",
    "p_sma_cross_fast": "5",
    "p_sma_cross_slow": "20",
    "initial_capital": "10000",
    "fraction": "100",
    "fee_bps": "10",
    "slippage_bps": "0",
}


@pytest.fixture
def done(alice: Any, btc: Any) -> Backtest:
    backtest = services.create_backtest(
        owner=alice,
        req=services.JobRequest(
            symbol="BTC-USD",
            timeframe="1h",
            strategy="sma_cross",
            params={"fast": 5, "slow": 20},
            fee_bps=10.0,
            slippage_bps=0.0,
        ),
        enqueue=False,
    )
    return services.run_backtest_job(backtest_id=backtest.pk)


def test_index_lists_and_offers_every_strategys_params(
    client: Client, alice: Any, done: Backtest
) -> None:
    client.force_login(alice)
    response = client.get("/backtests/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/backtests/{done.pk}/"' in html
    assert (
        'data-strategy="sma_cross"' in html and 'data-strategy="rsi_reversion"' in html
    )
    assert 'data-strategy="model_forecast"' in html  # with its model fields
    assert "<script>" not in html  # CSP: no inline script


def test_posting_the_form_queues_a_backtest_with_the_chosen_params(
    client: Client, alice: Any, btc: Any, monkeypatch: Any
) -> None:
    from apps.backtests import tasks

    monkeypatch.setattr(tasks.run_backtest_task, "delay", lambda pk: None)
    client.force_login(alice)
    data = {**FORM, "p_rsi_reversion_period": "3", "stop_loss": "5"}
    response = client.post("/backtests/", data)
    backtest = Backtest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/backtests/{backtest.pk}/"
    assert backtest.params == {"fast": 5, "slow": 20, "allow_short": False}
    assert backtest.stop_loss == pytest.approx(0.05) and backtest.fraction == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"p_sma_cross_fast": "30"}, "must be &lt; slow"),
        ({"p_sma_cross_fast": "0"}, "greater than or equal to 1"),
        ({"strategy": "model_forecast"}, "Choose one of your models to trade on."),
        ({"start": "2019-03-01 00:00", "end": "2019-02-01 00:00"}, "after the start"),
        (
            {"start": "2017-03-01 00:00", "end": "2017-04-01 00:00"},
            "at least 2 are needed",
        ),
    ],
)
def test_form_errors_are_400_not_500(
    client: Client, alice: Any, btc: Any, change: dict[str, str], message: str
) -> None:
    client.force_login(alice)
    response = client.post("/backtests/", {**FORM, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Backtest.objects.exists()


def test_viewer_cannot_create(client: Client, vera: Any, btc: Any) -> None:
    client.force_login(vera)
    response = client.post("/backtests/", FORM, follow=True)
    assert "Your role is viewer" in response.content.decode()
    assert not Backtest.objects.exists()


def test_detail_shows_cards_charts_and_sorted_trades(
    client: Client, alice: Any, done: Backtest
) -> None:
    client.force_login(alice)
    html = client.get(f"/backtests/{done.pk}/").content.decode()
    assert (
        'data-testid="metric-cards"' in html and 'data-testid="metric-sharpe"' in html
    )
    assert 'id="equity-chart"' in html and 'id="price-chart"' in html
    assert 'id="backtest-chart-config"' in html
    config = json.loads(
        html.split('id="backtest-chart-config" type="application/json">')[1].split(
            "</script>"
        )[0]
    )
    assert len(config["entries"]["time"]) == len(done.trades)
    assert len(config["prices"]["time"]) == 300
    # Sorted by profit, descending, on the server.
    html = client.get(f"/backtests/{done.pk}/?sort=-profit").content.decode()
    assert 'aria-sort="descending"' in html
    best = max(t["profit"] for t in done.trades)
    table = html.split('data-testid="trade-table"')[1]
    first_row = table.split("<tbody>")[1].split("</tr>")[0]
    assert f"{best:.2f}" in first_row


def test_status_fragment_for_htmx(client: Client, alice: Any, done: Backtest) -> None:
    client.force_login(alice)
    response = client.get(f"/backtests/{done.pk}/status/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.strip().startswith(f'<div id="backtest-{done.pk}-status"')
    assert 'data-final="1"' in html and "hx-trigger" not in html


def test_a_running_backtest_polls_and_a_failed_one_shows_its_error(
    client: Client, alice: Any, done: Backtest
) -> None:
    client.force_login(alice)
    Backtest.objects.filter(pk=done.pk).update(status="running", progress=40)
    html = client.get(f"/backtests/{done.pk}/").content.decode()
    assert 'hx-trigger="every 3s"' in html and 'value="40"' in html
    Backtest.objects.filter(pk=done.pk).update(status="failed", error="no candles")
    html = client.get(f"/backtests/{done.pk}/").content.decode()
    assert "This run failed: no candles" in html


def test_csv_export(client: Client, alice: Any, done: Backtest) -> None:
    client.force_login(alice)
    response = client.get(f"/backtests/{done.pk}/trades.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == len(done.trades)
    assert float(rows[0]["profit"]) == done.trades[0]["profit"]
    assert rows[0]["side"] == "long" and rows[0]["entry_time"].endswith("Z")


def test_another_users_pages_are_404(client: Client, bob: Any, done: Backtest) -> None:
    client.force_login(bob)
    for url in ["", "status/", "trades.csv"]:
        assert client.get(f"/backtests/{done.pk}/{url}").status_code == 404, url
    assert client.post(f"/backtests/{done.pk}/delete/").status_code == 404
    assert Backtest.objects.filter(pk=done.pk).exists()


def test_delete_from_the_page(client: Client, alice: Any, done: Backtest) -> None:
    client.force_login(alice)
    response = client.post(f"/backtests/{done.pk}/delete/")
    assert response.status_code == 302 and not Backtest.objects.exists()


def test_anonymous_is_sent_to_login(client: Client, done: Backtest) -> None:
    response = client.get(f"/backtests/{done.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_dashboard_counts_the_users_backtests(
    client: Client, alice: Any, done: Backtest
) -> None:
    client.force_login(alice)
    html = client.get("/").content.decode()
    section = html.split('data-testid="section-backtests"')[1].split("</section>")[0]
    assert '<p class="big">1</p>' in section


def test_sweep_form_runs_and_the_page_shows_ranking_and_heatmap(
    client: Client, alice: Any, bob: Any, btc: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "dispatch_sweep", lambda sweep: None)
    client.force_login(alice)
    data = {
        **FORM,
        "g_sma_cross_fast": "3,5,8",
        "g_sma_cross_slow": "20:40:10",
        "metric": "sharpe",
        "in_sample": "70",
    }
    response = client.post("/backtests/sweeps/", data)
    sweep = Sweep.objects.get()
    assert response.status_code == 302, response.content.decode()[:2000]
    services.run_sweep_inline(sweep)
    html = client.get(f"/backtests/sweeps/{sweep.pk}/").content.decode()
    assert 'data-testid="sweep-ranking"' in html
    assert 'id="sweep-heatmap-config"' in html and 'id="heatmap-oos"' in html
    client.force_login(bob)
    assert client.get(f"/backtests/sweeps/{sweep.pk}/").status_code == 404


def test_sweep_form_errors_are_400(client: Client, alice: Any, btc: Any) -> None:
    client.force_login(alice)
    data = {
        **FORM,
        "g_sma_cross_fast": "1:100:1",
        "g_sma_cross_slow": "2:200:1",
        "metric": "sharpe",
        "in_sample": "70",
    }
    response = client.post("/backtests/sweeps/", data)
    assert response.status_code == 400
    assert "at most 2,000" in response.content.decode()
    assert not Sweep.objects.exists()


def test_a_sweep_row_links_to_a_prefilled_backtest_form(
    client: Client, alice: Any, btc: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "dispatch_sweep", lambda sweep: None)
    sweep = services.create_sweep(
        owner=alice,
        req=services.JobRequest(
            symbol="BTC-USD", timeframe="1h", strategy="sma_cross", fee_bps=7.0
        ),
        grid={"fast": [3, 5], "slow": [20]},
        enqueue=False,
    )
    services.run_sweep_inline(sweep)
    client.force_login(alice)
    html = client.get(f"/backtests/sweeps/{sweep.pk}/").content.decode()
    link = html.split('data-testid="backtest-combination"')[0].rsplit('href="', 1)[1]
    link = link.split('"')[0].replace("&amp;", "&")
    form = client.get(link).content.decode()
    best = Sweep.objects.get(pk=sweep.pk).results[0]["params"]
    assert _input(form, "p_sma_cross_fast").count(f'value="{best["fast"]}"') == 1
    assert 'value="7.0"' in _input(form, "fee_bps")
    assert "selected" in form.split('value="sma_cross"')[1][:12]


def _input(html: str, name: str) -> str:
    """The <input> tag of the field ``name``."""
    return (
        "<input"
        + html.split(f'name="{name}"')[0].rsplit("<input", 1)[1]
        + html.split(f'name="{name}"')[1].split(">")[0]
    )
