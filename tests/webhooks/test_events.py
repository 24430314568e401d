"""Each event fires from its real code path: bot fills and status changes (the
services, the risk rules and the emergency stop), a backtest and a training run
finishing either way. Nothing is sent for a change that rolls back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from apps.webhooks import services
from apps.webhooks.models import WebhookDelivery
from tests.bots.conftest import START, make_asset, make_bot, run, tick
from tests.bots.conftest import feed as feed_bars

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _bots_and_models(settings: Any, tmp_path: Any) -> None:
    from apps.bots import engine
    from apps.market import feed

    settings.REPLAY_TICKS_PER_BAR = 6
    settings.VAR_DIR = tmp_path
    feed._FINEST.clear()  # noqa: SLF001 - asset ids repeat between tests
    engine._BARS.clear()  # noqa: SLF001


@pytest.fixture
def hook(alice: Any, local_targets: Any, receiver: Any) -> Any:
    return make_endpoint(alice, receiver.url)


def sent(event: str) -> list[dict[str, Any]]:
    rows = WebhookDelivery.objects.filter(event=event).order_by("pk")
    return [r.payload["data"] for r in rows]


def test_a_bot_fill_sends_trade_executed(alice: Any, bob: Any, hook: Any) -> None:
    from apps.bots.models import Fill

    asset = make_asset()
    bot = run(make_bot(alice))
    run(make_bot(bob))  # bob's fills never reach alice's endpoint
    feed_bars(asset)
    fills = list(Fill.objects.filter(bot=bot).order_by("pk"))
    assert len(fills) >= 2
    data = sent("trade.executed")
    assert len(data) == len(fills)
    for fill, d in zip(fills, data, strict=True):
        assert d["bot"] == bot.pk and d["symbol"] == "BTC-USD"
        assert d["order"] == fill.order_id and d["fill"] == fill.pk
        assert d["side"] == fill.side
        assert D(d["quantity"]) == fill.quantity and D(d["price"]) == fill.price
        assert D(d["fee"]) == fill.fee and D(d["market_price"]) == fill.market_price
    assert {d["side"] for d in data} == {"buy", "sell"}
    assert WebhookDelivery.objects.exclude(endpoint=hook).count() == 0


def test_every_lifecycle_change_sends_bot_status_changed(alice: Any, hook: Any) -> None:
    from apps.bots import services as bots

    make_asset()
    bot = make_bot(alice)
    bots.start_bot(bot=bot, actor=alice)
    bots.pause_bot(bot=bot, actor=alice)
    bots.start_bot(bot=bot, actor=alice)
    bots.stop_bot(bot=bot, actor=alice)
    data = sent("bot.status_changed")
    assert [(d["action"], d["status"]) for d in data] == [
        ("started", "running"),
        ("paused", "paused"),
        ("started", "running"),
        ("stopped", "stopped"),
    ]
    assert data[1]["reason"] == f"paused by {alice.email}"
    assert all(d["bot"] == bot.pk and d["halted"] is False for d in data)


def test_a_risk_pause_sends_bot_status_changed(alice: Any, hook: Any) -> None:
    from apps.bots import broker
    from apps.bots.engine import _create_order, process_tick

    asset = make_asset()
    bar = START + timedelta(hours=50)
    bot = make_bot(
        alice, config={"stop_loss": D("0.05"), "fee_bps": D(0), "slippage_bps": D(0)}
    )
    order = _create_order(
        bot, key="seed", side="buy", quantity=D(1), source="manual", bar_time=bar
    )
    broker.fill_order(bot=bot, order=order, market=D(100), time=bar)
    run(bot)
    process_tick(bot_id=bot.pk, tick=tick(asset, "94.5", bar, 2))
    [paused] = sent("bot.status_changed")
    assert paused["action"] == "risk_paused" and paused["status"] == "paused"
    assert paused["reason"].startswith("stop loss: 94.50")
    # The seed fill and the stop-loss exit were both trades.
    assert [d["side"] for d in sent("trade.executed")] == ["buy", "sell"]


def test_the_emergency_stop_tells_each_running_bots_owner(
    alice: Any, bob: Any, admin: Any, hook: Any
) -> None:
    from apps.system.services import update_setting

    make_asset()
    running = run(make_bot(alice, name="runs"))
    make_bot(alice, name="stopped")
    bobs = make_endpoint(bob, hook.url)
    run(make_bot(bob, name="bob's"))
    update_setting(key="emergency_stop", value=True, actor=admin)
    update_setting(key="emergency_stop", value=True, actor=admin)  # no change
    update_setting(key="emergency_stop", value=False, actor=admin)
    mine = WebhookDelivery.objects.filter(endpoint=hook).order_by("pk")
    assert [(d.payload["data"]["bot"], d.payload["data"]["action"]) for d in mine] == [
        (running.pk, "emergency_stop"),
        (running.pk, "emergency_stop_lifted"),
    ]
    assert [d.payload["data"]["halted"] for d in mine] == [True, False]
    assert WebhookDelivery.objects.filter(endpoint=bobs).count() == 2


def test_a_finished_backtest_sends_backtest_completed(alice: Any, hook: Any) -> None:
    from apps.backtests import services as backtests
    from apps.backtests.models import Backtest
    from apps.backtests.services import JobRequest
    from tests.backtests.conftest import make_asset as backtest_asset
    from tests.backtests.conftest import wave

    backtest_asset("BTC-USD", wave(300))

    def queued() -> Backtest:
        return backtests.create_backtest(
            owner=alice,
            req=JobRequest(
                symbol="BTC-USD",
                timeframe="1h",
                strategy="sma_cross",
                params={"fast": 5, "slow": 20},
            ),
            enqueue=False,
        )

    ok = backtests.run_backtest_job(backtest_id=queued().pk)
    bad = queued()
    Backtest.objects.filter(pk=bad.pk).update(params={"fast": 5, "slow": 2})
    backtests.run_backtest_job(backtest_id=bad.pk)
    # A redelivered job runs once, so it completes once.
    backtests.run_backtest_job(backtest_id=ok.pk)
    first, second = sent("backtest.completed")
    assert first["backtest"] == ok.pk and first["status"] == "succeeded"
    assert first["total_return"] == pytest.approx(ok.total_return)
    assert first["trades"] == ok.trade_count and first["strategy"] == "sma_cross"
    assert second["backtest"] == bad.pk and second["status"] == "failed"
    assert "slow" in second["error"]


def test_a_finished_training_run_sends_training_completed(
    alice: Any, hook: Any
) -> None:
    from apps.market.services import get_or_create_asset
    from apps.mlmodels import services as mlmodels
    from tests.mlmodels.conftest import closes, store_bars

    store_bars(get_or_create_asset(symbol="BTC-USD"), closes(300))

    def model(**kw: Any) -> Any:
        spec = mlmodels.ModelSpec(
            name=kw.pop("name"),
            algorithm="naive",
            symbol="BTC-USD",
            timeframe="1h",
            params={},
            folds=kw.pop("folds", 3),
            horizon=kw.pop("horizon", 6),
            max_train_bars=200,
        )
        return mlmodels.create_model(owner=alice, spec=spec)

    good = model(name="good")
    run = mlmodels.start_training(model=good, actor=alice, enqueue=False)
    mlmodels.run_training(run_id=run.pk)
    bad = model(name="too short", horizon=100, folds=5)
    failed = mlmodels.start_training(model=bad, actor=alice, enqueue=False)
    mlmodels.run_training(run_id=failed.pk)
    first, second = sent("training.completed")
    assert first["run"] == run.pk and first["model"] == good.pk
    assert first["status"] == "trained" and first["skill"] == pytest.approx(0.0)
    assert "naive forecast" in first["verdict"]
    assert second["run"] == failed.pk and second["status"] == "failed"
    assert "too short" in second["error"]


def test_a_rolled_back_change_sends_nothing(
    alice: Any, hook: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from apps.bots import services as bots

    queued: list[int] = []
    monkeypatch.setattr(
        services, "enqueue", lambda pk, countdown=None: queued.append(pk)
    )
    make_asset()
    bot = make_bot(alice)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        bots.start_bot(bot=bot, actor=alice)
        assert WebhookDelivery.objects.count() == 1  # written, not yet sent
        assert queued == []
        raise RuntimeError("the surrounding change fails")
    assert WebhookDelivery.objects.count() == 0 and queued == []
    # The same change committed is sent once, after the commit.
    with django_capture_on_commit_callbacks(execute=True):
        bots.start_bot(bot=bot, actor=alice)
        assert queued == []
    [delivery] = WebhookDelivery.objects.all()
    assert queued == [delivery.pk]


def test_only_active_subscribed_endpoints_receive(
    alice: Any, local_targets: Any, receiver: Any
) -> None:
    from apps.webhooks.services import update_endpoint

    trades = make_endpoint(alice, receiver.url, ["trade.executed"])
    status = make_endpoint(alice, receiver.url, ["bot.status_changed"])
    off = make_endpoint(alice, receiver.url, ["bot.status_changed"])
    update_endpoint(endpoint=off, actor=alice, changes={"active": False})
    assert (
        services.emit_event(user=alice, event="bot.status_changed", data={"bot": 1})
        == 1
    )
    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [
        status.pk
    ]
    assert not WebhookDelivery.objects.filter(endpoint=trades).exists()
    with pytest.raises(ValueError, match="unknown webhook event"):
        services.emit_event(user=alice, event="nope", data={})


def test_an_event_nobody_listens_to_costs_one_query(
    alice: Any, django_assert_num_queries: Any
) -> None:
    from apps import webhooks
    from apps.bots.models import TradingBot

    make_asset()
    bot = TradingBot.objects.get(pk=make_bot(alice).pk)  # asset not loaded
    with django_assert_num_queries(1):
        assert webhooks.bot_status_changed(bot, "started") == 0
