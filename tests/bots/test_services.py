"""Lifecycle services: create, edit, start, pause, stop, reset, delete; audited;
max_bots_per_user; live mode and private assets refused."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.audit.models import AuditLog
from apps.bots import services
from apps.bots.models import Order, PaperAccount, Position, TradingBot

from .conftest import START, feed, make_asset, make_bot, set_setting, spec


def actions(bot: Any) -> list[str]:
    return list(
        AuditLog.objects.filter(resource_id=str(bot.pk), action__startswith="bot.")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_create_bot_makes_account_and_position(alice: Any, asset: Any) -> None:
    bot = services.create_bot(owner=alice, spec=spec(starting_cash=Decimal(5000)))
    assert bot.status == "stopped" and bot.mode == "paper"
    assert PaperAccount.objects.get(bot=bot).cash == Decimal(5000)
    assert Position.objects.get(bot=bot).quantity == 0
    assert bot.params == {"fast": 3, "slow": 8, "allow_short": False}
    assert actions(bot) == ["bot.created"]


def test_create_bot_uses_the_default_costs(alice: Any, asset: Any) -> None:
    set_setting("default_fee_bps", 25)
    bot = services.create_bot(owner=alice, spec=spec())
    assert bot.fee_bps == Decimal(25)


def test_live_mode_is_refused(alice: Any, asset: Any) -> None:
    with pytest.raises(services.BotError, match="no exchange broker") as exc:
        services.create_bot(owner=alice, spec=spec(mode="live"))
    assert exc.value.field == "mode"


def test_private_asset_is_refused(alice: Any, asset: Any) -> None:
    make_asset("PRIV-USD", n=10, owner=alice)
    with pytest.raises(services.BotError, match="private asset"):
        services.create_bot(owner=alice, spec=spec(symbol="PRIV-USD"))


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"strategy": "nope"}, "strategy"),
        ({"params": {"fast": 9, "slow": 3}}, "params"),
        ({"symbol": "NOPE-USD"}, "symbol"),
        ({"strategy": "model_forecast", "params": {}}, "strategy"),
        ({"params": {"fast": 3, "slow": 8, "allow_short": True}}, "params"),
    ],
)
def test_bad_specs_name_their_field(
    alice: Any, asset: Any, kw: Any, field: str
) -> None:
    with pytest.raises(services.BotError) as exc:
        services.create_bot(owner=alice, spec=spec(**kw))
    assert exc.value.field == field
    assert not TradingBot.objects.exists()


def test_max_bots_per_user(alice: Any, bob: Any, asset: Any) -> None:
    set_setting("max_bots_per_user", 2)
    make_bot(alice)
    make_bot(alice)
    with pytest.raises(services.BotError, match="maximum of 2"):
        make_bot(alice)
    make_bot(bob)  # per user


def test_lifecycle_is_audited(alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    services.start_bot(bot=bot, actor=alice)
    services.pause_bot(bot=bot, actor=alice)
    services.start_bot(bot=bot, actor=alice)
    services.stop_bot(bot=bot, actor=alice)
    services.update_bot(bot=bot, actor=alice, changes={"name": "renamed"})
    services.reset_bot(bot=bot, actor=alice)
    services.delete_bot(bot=bot, actor=alice)
    assert actions(bot) == [
        "bot.created",
        "bot.started",
        "bot.paused",
        "bot.started",
        "bot.stopped",
        "bot.updated",
        "bot.reset",
        "bot.deleted",
    ]
    assert not TradingBot.objects.filter(pk=bot.pk).exists()


def test_edit_and_delete_only_while_stopped(alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    services.start_bot(bot=bot, actor=alice)
    with pytest.raises(services.BotError, match="Stop the bot"):
        services.update_bot(bot=bot, actor=alice, changes={"name": "x"})
    with pytest.raises(services.BotError, match="Stop the bot"):
        services.delete_bot(bot=bot, actor=alice)
    with pytest.raises(services.BotError, match="Stop the bot"):
        services.reset_bot(bot=bot, actor=alice)


def test_edit_validates_strategy_params(alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    with pytest.raises(services.BotError):
        services.update_bot(
            bot=bot, actor=alice, changes={"params": {"fast": 50, "slow": 8}}
        )
    bot = services.update_bot(
        bot=bot,
        actor=alice,
        changes={"strategy": "ema_cross", "params": {"fast": 4, "slow": 9}},
    )
    assert bot.strategy == "ema_cross" and bot.params["slow"] == 9


def test_start_refused_during_emergency_stop(alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    set_setting("emergency_stop", True)
    with pytest.raises(services.BotError, match="emergency stop"):
        services.start_bot(bot=bot, actor=alice)


def test_stop_closing_the_position(alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    services.start_bot(bot=bot, actor=alice)
    feed(asset, end=START + timedelta(hours=60))
    assert (
        Position.objects.get(bot=bot).quantity > 0
        or Order.objects.filter(bot=bot, status="new").exists()
    )
    services.stop_bot(bot=bot, actor=alice, close_position=True)
    bot.refresh_from_db()
    assert bot.status == "stopped"
    assert Position.objects.get(bot=bot).quantity == 0
    assert not Order.objects.filter(bot=bot, status="new").exists()


def test_reset_restores_the_starting_cash(alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    services.start_bot(bot=bot, actor=alice)
    feed(asset, end=START + timedelta(hours=60))
    services.stop_bot(bot=bot, actor=alice)
    services.reset_bot(bot=bot, actor=alice)
    assert PaperAccount.objects.get(bot=bot).cash == Decimal(10000)
    assert Position.objects.get(bot=bot).quantity == 0
    assert not bot.orders.exists() and not bot.fills.exists()


def test_manual_order_is_idempotent(alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    first, created = services.place_manual_order(
        bot=bot, actor=alice, key="k1", side="buy", quantity=Decimal("0.1")
    )
    again, created_again = services.place_manual_order(
        bot=bot, actor=alice, key="k1", side="buy", quantity=Decimal("0.1")
    )
    assert created and not created_again and first.pk == again.pk
    assert bot.orders.count() == 1
