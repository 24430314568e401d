"""Real objects of one owner's, made through the services exactly as the API and
pages make them: an asset with candles, a private imported asset, a trained model
with a forecast, a finished backtest, a finished sweep and a bot."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2020, 1, 1, tzinfo=UTC)


def _bars(n: int) -> list[Any]:
    from apps.market.services import Bar

    closes = [round(100 + 10 * math.sin(i / 7) + 0.05 * i, 4) for i in range(n)]
    opens = [100.0, *closes[:-1]]
    return [
        Bar(START + timedelta(hours=i), o, max(o, c) + 1, min(o, c) - 1, c, 5.0)
        for i, (o, c) in enumerate(zip(opens, closes, strict=True))
    ]


def build_world(owner: Any) -> dict[str, Any]:
    """Real objects of ``owner``'s, made through the services, as the API makes them."""
    import io

    from apps.backtests import services as backtests
    from apps.bots import services as bots
    from apps.market.services import get_or_create_asset, import_candles, upsert_candles
    from apps.mlmodels import services as ml
    from apps.webhooks import services as webhooks

    asset = get_or_create_asset(symbol="BTC-USD")
    upsert_candles(asset=asset, timeframe="1h", bars=_bars(300))
    csv = "time,open,high,low,close,volume\n" + "".join(
        f"{(START + timedelta(hours=i)).isoformat()},1,2,0.5,1.5,3\n" for i in range(30)
    )
    record = import_candles(
        fileobj=io.BytesIO(csv.encode()),
        symbol="ETH-USD",
        timeframe="1h",
        actor=owner,
        asset_owner=owner,
    )
    model = ml.create_model(
        owner=owner,
        spec=ml.ModelSpec(
            name="naive",
            algorithm="naive",
            symbol="BTC-USD",
            timeframe="1h",
            params={},
            horizon=6,
            folds=3,
            max_train_bars=200,
        ),
    )
    run = ml.start_training(model=model, actor=owner, enqueue=False)
    ml.run_training(run_id=run.pk)
    model.refresh_from_db()
    job = ml.request_forecast(model=model, actor=owner, enqueue=False)
    ml.run_forecast(job_id=job.pk)
    req = backtests.JobRequest(
        symbol="BTC-USD",
        timeframe="1h",
        strategy="sma_cross",
        params={"fast": 5, "slow": 20},
    )
    backtest = backtests.create_backtest(owner=owner, req=req, enqueue=False)
    backtests.run_backtest_job(backtest_id=backtest.pk)
    sweep = backtests.create_sweep(
        owner=owner, req=req, grid={"fast": [3, 5], "slow": [20]}, enqueue=False
    )
    backtests.run_sweep_inline(sweep)
    bot = bots.create_bot(
        owner=owner,
        spec=bots.BotSpec(
            name="sma bot",
            symbol="BTC-USD",
            strategy="sma_cross",
            params={"fast": 3, "slow": 8},
            timeframe="1h",
            config=None,
        ),
    )
    endpoint = webhooks.create_endpoint(
        owner=owner,
        url="https://93.184.216.34/aaiti-hook",  # a public address: no DNS lookup
        events=["trade.executed", "backtest.completed"],
    )
    delivery = webhooks.send_test(endpoint=endpoint, actor=owner)
    return {
        "symbol": asset.symbol,
        "private_symbol": "ETH-USD",
        "ETH-USD": record.asset_id,
        "mlmodels.MLModel": model.pk,
        "backtests.Backtest": backtest.pk,
        "backtests.Sweep": sweep.pk,
        "bots.TradingBot": bot.pk,
        "market.MarketImport": record.pk,
        "/api/market/imports/": record.pk,
        "/api/models/": model.pk,
        "run_id": run.pk,
        "job_id": job.pk,
        "/api/sweeps/": sweep.pk,
        "/api/backtests/": backtest.pk,
        "/api/bots/": bot.pk,
        "webhooks.WebhookEndpoint": endpoint.pk,
        "webhooks.WebhookDelivery": delivery.pk,
        "/api/webhooks/": endpoint.pk,
        "delivery": delivery.pk,
    }
