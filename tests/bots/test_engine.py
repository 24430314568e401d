"""The engine on replay ticks: decisions at the bar's close, fills at the next
tick (the next bar's open), journaled inputs, idempotency, and parity with the
backtester (the paper ledger is Decimal, the backtester float64: prices and
quantities agree to 1e-6 relative, times exactly)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from apps.backtests.engine import OHLCV, BacktestConfig, run_backtest
from apps.backtests.strategies import get_strategy
from apps.bots import parity
from apps.bots.engine import process_tick
from apps.bots.hooks import on_tick
from apps.bots.models import Fill, JournalEntry, Order
from apps.market.models import Candle

from .conftest import START, feed, make_bot, run, tick, ticks

COSTS = {"fee_bps": Decimal(10), "slippage_bps": Decimal(5)}


def test_on_tick_without_bots_does_nothing(asset: Any) -> None:
    assert on_tick(asset=asset, tick=tick(asset, "9000", START)) == 0


def test_decides_at_the_close_and_fills_at_the_next_open(
    alice: Any, asset: Any
) -> None:
    bot = run(make_bot(alice, config=COSTS))
    feed(asset, end=START + timedelta(hours=60))
    first = Fill.objects.filter(bot=bot).order_by("time").first()
    assert first is not None and first.side == "buy"
    order = first.order
    decided_bar = order.bar_time
    # filled at the open of the bar after the decision, with slippage
    assert first.time == decided_bar + timedelta(hours=1)
    next_open = Candle.objects.get(
        asset=asset, timeframe="1h", open_time=first.time
    ).open
    assert first.market_price == Decimal(str(next_open))
    assert first.price == (first.market_price * Decimal("1.0005")).quantize(
        Decimal("1e-10")
    )
    entry = JournalEntry.objects.get(bot=bot, kind="decision", inputs__order=order.pk)
    assert entry.message.startswith("SMA 3 (")
    assert "crossed above SMA 8" in entry.message and ": buy " in entry.message
    assert entry.inputs["fast"] > entry.inputs["slow"]


def test_no_decision_before_the_close(alice: Any, asset: Any) -> None:
    bot = run(make_bot(alice))
    bar = START + timedelta(hours=30)
    for index in range(5):
        process_tick(bot_id=bot.pk, tick=tick(asset, "9000", bar, index))
    bot.refresh_from_db()
    assert bot.last_bar_time is None
    process_tick(bot_id=bot.pk, tick=tick(asset, "9000", bar, 5))
    bot.refresh_from_db()
    assert bot.last_bar_time == bar


def test_the_same_ticks_twice_make_no_second_order(alice: Any, asset: Any) -> None:
    bot = run(make_bot(alice))
    feed(asset, end=START + timedelta(hours=80))
    orders, fills = (
        Order.objects.filter(bot=bot).count(),
        Fill.objects.filter(bot=bot).count(),
    )
    assert orders > 1
    feed(asset, end=START + timedelta(hours=80))  # a replay lap or a second feed
    assert Order.objects.filter(bot=bot).count() == orders
    assert Fill.objects.filter(bot=bot).count() == fills


def test_a_stopped_bot_ignores_ticks(alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    feed(asset, end=START + timedelta(hours=40))
    assert not Order.objects.filter(bot=bot).exists()


def _backtest(asset: Any, bot: Any) -> list[dict[str, Any]]:
    rows = list(
        Candle.objects.filter(asset=asset, timeframe="1h")
        .order_by("open_time")
        .values_list("open_time", "open", "high", "low", "close")
    )
    t, o, h, lo, c = zip(*rows, strict=True)
    data = OHLCV(
        np.array([int(x.timestamp()) for x in t]),
        np.array(o),
        np.array(h),
        np.array(lo),
        np.array(c),
        np.zeros(len(rows)),
    )
    target = get_strategy("sma_cross").signals(data, fast=3, slow=8, allow_short=False)
    config = BacktestConfig(
        initial_capital=10_000, fee_bps=10, slippage_bps=5, fraction=1
    )
    return run_backtest(data, target, config).trades.to_records()


@pytest.mark.parametrize("n", [200])
def test_parity_with_the_backtest(alice: Any, n: int) -> None:
    from .conftest import make_asset

    asset = make_asset(n=n)
    bot = run(make_bot(alice, config=COSTS))
    feed(asset)
    expected = _backtest(asset, bot)
    paper = parity.paper_trades(bot)
    assert len(expected) >= 5
    assert len(paper) == len(expected)
    for p, b in zip(paper, expected, strict=True):
        assert p["entry_time"] == datetime.fromtimestamp(b["entry_time"], UTC)
        assert p["entry_price"] == pytest.approx(b["entry_price"], rel=parity.TOLERANCE)
        assert p["quantity"] == pytest.approx(b["quantity"], rel=parity.TOLERANCE)
        if b["exit_reason"] == "end":
            assert p["exit_time"] is None  # still open: the backtest closes at the end
        else:
            assert p["exit_time"] == datetime.fromtimestamp(b["exit_time"], UTC)
            assert p["exit_price"] == pytest.approx(
                b["exit_price"], rel=parity.TOLERANCE
            )
    # the page's comparison agrees
    bot.refresh_from_db()
    result = parity.compare(bot)
    assert result["differences"] == []
    assert len(result["rows"]) == len(expected)


def test_compare_reports_a_difference(alice: Any, asset: Any) -> None:
    bot = run(make_bot(alice, config=COSTS))
    feed(asset, end=START + timedelta(hours=100))
    fill = Fill.objects.filter(bot=bot).order_by("time").first()
    Fill.objects.filter(pk=fill.pk).update(price=fill.price * 2)
    bot.refresh_from_db()
    assert parity.compare(bot)["differences"] == ["trade 1: entry price differs"]


def test_replay_ticks_are_the_feeds(asset: Any) -> None:
    # the test's ticks come from the feed's own replay generator: last tick = close
    last = list(ticks(asset, end=START + timedelta(hours=1)))[-1]
    close = Candle.objects.get(asset=asset, timeframe="1h", open_time=START).close
    assert last.price == Decimal(str(close)) and last.tick_index == 5


def test_live_ticks_decide_when_a_new_bucket_starts(alice: Any, asset: Any) -> None:
    from apps.market.providers.base import Tick

    bot = run(make_bot(alice))
    bar = START + timedelta(hours=40)

    def live(at: datetime) -> Any:
        return Tick(asset.symbol, Decimal("9000"), at, "live")

    process_tick(bot_id=bot.pk, tick=live(bar + timedelta(hours=1, minutes=1)))
    bot.refresh_from_db()
    assert bot.last_bar_time == bar  # the first tick of 41:00 closes the 40:00 bar
    process_tick(bot_id=bot.pk, tick=live(bar + timedelta(hours=1, minutes=30)))
    bot.refresh_from_db()
    assert bot.last_bar_time == bar  # nothing new until the next bucket
    process_tick(bot_id=bot.pk, tick=live(bar + timedelta(hours=2)))
    bot.refresh_from_db()
    assert bot.last_bar_time == bar + timedelta(hours=1)


def test_a_manual_position_before_the_averages_warm_up_is_journaled_without_nan(
    alice: Any, asset: Any
) -> None:
    """A manual buy filled before SMA 8 has 8 bars: the strategy's flat target
    closes it, and the journal says why in words with no NaN (JSON has none)."""
    from apps.bots import services

    bot = run(make_bot(alice))
    services.place_manual_order(
        bot=bot, actor=alice, key="early", side="buy", quantity=Decimal("0.1")
    )
    feed(asset, end=START + timedelta(hours=3))
    bot.refresh_from_db()
    assert bot.status == "running"
    sells = Order.objects.filter(bot=bot, side="sell")
    assert sells.exists()
    entry = JournalEntry.objects.get(
        bot=bot, kind="decision", inputs__order=sells[0].pk
    )
    assert entry.inputs["fast"] is None and entry.inputs["slow"] is None
    assert "fewer than 8 bars" in entry.message
