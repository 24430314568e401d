"""/metrics reports the bots' orders, fills and equity as the ledger holds them."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.bots import services
from apps.bots.models import Fill, Order, PaperAccount, Position
from apps.market.models import Candle
from tests.bots.conftest import START, feed, make_bot
from tests.system.scrape import scrape, value

pytestmark = pytest.mark.django_db


def test_orders_fills_and_equity_of_running_bots(
    client: Any, settings: Any, alice: Any, bob: Any, asset: Any
) -> None:
    trader = make_bot(alice)
    services.start_bot(bot=trader, actor=alice)
    idle = make_bot(bob, name="just started")
    stopped = make_bot(bob, name="never started")
    services.place_manual_order(
        bot=stopped, actor=bob, key="k1", side="buy", quantity=Decimal("0.5")
    )
    end = START + timedelta(hours=80)
    feed(asset, end=end)
    services.start_bot(bot=idle, actor=bob)  # after the ticks: it has seen none
    services.place_manual_order(
        bot=trader,
        actor=alice,
        key="k2",
        side="sell",
        quantity=Decimal("0.1"),
        type="limit",
        limit_price=Decimal("99999"),
    )

    samples = scrape(client, settings)
    # Orders and fills: the ledger's rows counted here in Python, side by status.
    orders = Counter(Order.objects.values_list("side", "status"))
    assert len(orders) >= 3 and orders[("buy", "filled")] >= 1
    for (side, status), n in orders.items():
        assert value(samples, "aaiti_bot_orders", side=side, status=status) == n
    assert sum(s.value for s in samples["aaiti_bot_orders"]) == Order.objects.count()
    fills = Counter(Fill.objects.values_list("side", flat=True))
    assert fills["buy"] >= 1
    for side, n in fills.items():
        assert value(samples, "aaiti_bot_fills", side=side) == n

    # Equity of each running bot: cash + quantity x the last tick's price, which
    # under replay is the close of the last replayed bar.
    last_close = (
        Candle.objects.filter(asset=asset, open_time__lt=end).latest("open_time").close
    )
    account, position = (
        PaperAccount.objects.get(bot=trader),
        Position.objects.get(bot=trader),
    )
    expected = account.cash + position.quantity * Decimal(str(last_close))
    got = value(samples, "aaiti_bot_equity", bot=str(trader.pk), symbol="BTC-USD")
    assert got == pytest.approx(float(expected), abs=0.01)
    assert got != 10000  # it traded
    # Started but not yet ticked: its starting cash.
    idle_equity = value(samples, "aaiti_bot_equity", bot=str(idle.pk), symbol="BTC-USD")
    assert idle_equity == pytest.approx(10000.0)
    # A stopped bot has no equity series.
    bots = {s.labels["bot"] for s in samples["aaiti_bot_equity"]}
    assert str(stopped.pk) not in bots
