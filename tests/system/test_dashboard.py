"""The dashboard: the user's own paper equity, running bots, latest fills and
predictions, and jobs in progress; nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from apps.bots.models import PaperAccount, Position, TradingBot
from apps.market.prices import store_tick
from apps.system.dashboard import render_parts
from tests.bots.conftest import START, feed, make_asset, make_bot, run

pytestmark = pytest.mark.django_db


def page(user: Any) -> str:
    client = Client()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def card(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"')[1].split("</section>")[0]


def test_a_new_user_sees_honest_empty_states(alice: Any) -> None:
    html = page(alice)
    assert 'ws-connect="/ws/me/?topics=dashboard"' in html
    assert "No paper-trading bots yet" in card(html, "dash-equity")
    assert "No bot is running" in card(html, "dash-bots")
    assert "No fills yet" in card(html, "dash-fills")
    assert "No predictions yet" in card(html, "dash-predictions")
    assert "Nothing training or backtesting" in card(html, "dash-jobs")


def test_paper_equity_is_every_bot_marked_at_the_latest_price(
    alice: Any, bob: Any
) -> None:
    asset = make_asset()
    one = run(make_bot(alice, name="one"))
    two = make_bot(alice, name="two")  # stopped, still counted in the equity
    theirs = run(make_bot(bob, name="theirs"))
    Position.objects.filter(bot=one).update(
        quantity=Decimal("0.5"), average_price=Decimal("9000")
    )
    PaperAccount.objects.filter(bot=one).update(cash=Decimal("5500"))
    PaperAccount.objects.filter(bot=two).update(cash=Decimal("10000"))
    store_tick(asset_id=asset.pk, price=9300.5, time=datetime.now(UTC), source="replay")
    html = page(alice)
    # 5,500 + 0.5 x 9,300.5 = 10,150.25; plus 10,000 flat; started with 20,000.
    equity = card(html, "dash-equity")
    assert "20,150.25" in equity and "150.25" in equity and "0.75 %" in equity
    assert "2 bots" in equity
    bots = card(html, "dash-bots")
    assert "one" in bots and "10,150.25" in bots
    assert "two" not in bots and "theirs" not in bots
    assert theirs.name not in html


def test_latest_fills_are_the_users_own(alice: Any, bob: Any) -> None:
    asset = make_asset()
    mine = run(make_bot(alice, name="mine"))
    run(make_bot(bob, name="theirs"))
    feed(asset, end=START + timedelta(hours=60))
    fills = list(mine.fills.order_by("-created_at", "-pk"))
    assert fills, "the wave made no trade"
    html = card(page(alice), "dash-fills")
    assert html.count('data-testid="dash-fill"') == min(len(fills), 8)
    assert f"{fills[0].price:,.2f}" in html and "theirs" not in html
    assert TradingBot.objects.get(name="theirs").fills.exists()


def test_jobs_in_progress_and_latest_predictions(alice: Any, bob: Any) -> None:
    from apps.backtests import services as backtests
    from apps.backtests.services import JobRequest
    from apps.mlmodels.models import ForecastJob, Prediction
    from apps.mlmodels.services import ModelSpec, create_model, start_training

    make_asset()
    backtest = backtests.create_backtest(
        owner=alice,
        req=JobRequest(
            symbol="BTC-USD",
            timeframe="1h",
            strategy="sma_cross",
            params={"fast": 5, "slow": 20},
        ),
        enqueue=False,
    )
    spec = ModelSpec(
        name="naive", algorithm="naive", symbol="BTC-USD", timeframe="1h", params={}
    )
    model = create_model(owner=alice, spec=spec)
    start_training(model=model, actor=alice, enqueue=False)
    other = create_model(owner=bob, spec=ModelSpec(**{**spec.__dict__, "name": "b"}))
    job = ForecastJob.objects.create(
        model=model, status="done", finished_at=datetime.now(UTC)
    )
    target = START + timedelta(hours=201)
    Prediction.objects.create(
        model=model,
        job=job,
        symbol="BTC-USD",
        timestamp=datetime.now(UTC),
        horizon=1,
        target_time=target,
        value=9123.45,
        lower=9000,
        upper=9250,
        confidence=0.95,
    )
    html = page(alice)
    assert "none yet" in card(html, "dash-predictions")
    scored = START + timedelta(hours=150)
    Prediction.objects.create(
        model=model,
        job=job,
        symbol="BTC-USD",
        timestamp=datetime.now(UTC),
        horizon=2,
        target_time=scored,
        value=9050.0,
        lower=8900,
        upper=9200,
        confidence=0.95,
        actual=9100.25,
        error=50.25,
    )
    html = page(alice)
    last = card(html, "dash-predictions")
    assert f"{scored:%m-%d %H:%M}: 9,100.25" in last and "vs 9,050.00" in last
    jobs = card(html, "dash-jobs")
    assert f"/backtests/{backtest.pk}/" in jobs and "Training naive" in jobs
    predictions = card(html, "dash-predictions")
    assert "9,123.45" in predictions
    assert "9,000 to 9,250" in predictions
    assert target.strftime("%m-%d %H:%M") in predictions
    assert f"/models/{other.pk}/" not in html


def test_pushed_cards_are_the_page_cards_with_oob(alice: Any) -> None:
    make_asset()
    run(make_bot(alice))
    html = render_parts(alice.pk, ("paper", "fills", "predictions", "jobs"))
    for element in ("dash-equity", "dash-bots", "dash-fills", "dash-predictions"):
        assert f'id="{element}"' in html
    assert html.count('hx-swap-oob="true"') == 5
    assert 'id="dash-equity"' in page(alice)
