"""The hot reads are served by an index, never a full scan of their table.

Each query below is the one the app runs (the same QuerySet methods and ordering).
SQLite: EXPLAIN QUERY PLAN must SEARCH the table through a named index, with no
SCAN of it, and the paginated lists must come out of the index already ordered (no
temporary sort of every row). PostgreSQL (the parity run): with sequential scans
discouraged, as on a big table, the plan must use an index; on a near-empty table
its planner would rightly prefer a sequential scan, which proves nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection

from apps.backtests.models import Backtest, Sweep
from apps.bots.models import Order, TradingBot
from apps.market.models import Candle

pytestmark = pytest.mark.django_db

START = datetime(2020, 1, 1, tzinfo=UTC)
END = datetime(2021, 1, 1, tzinfo=UTC)


def hot_queries(user: Any) -> dict[str, tuple[Any, str, str | None, bool]]:
    """name -> (queryset, table, the index SQLite must use or None, sorted by it)."""
    return {
        "candles by asset, timeframe and time range": (
            Candle.objects.series(_asset(), "1h", START, END),
            "market_candle",
            "sqlite_autoindex_market_candle_1",  # the unique (asset, tf, time)
            True,
        ),
        "a user's running bots": (
            TradingBot.objects.owned_by(user).running(),
            "bots_tradingbot",
            "bots_bot_owner_status",
            True,
        ),
        "a user's bots": (
            TradingBot.objects.owned_by(user),
            "bots_tradingbot",
            None,  # at most max_bots_per_user rows: sorting them costs nothing
            False,
        ),
        "a bot's orders, newest first": (
            Order.objects.filter(bot_id=1)[:50],
            "bots_order",
            "bots_order_bot_created",
            True,
        ),
        "a bot's pending orders": (
            Order.objects.filter(bot_id=1, status=Order.Status.NEW),
            "bots_order",
            None,
            False,
        ),
        "a user's backtests, newest first": (
            Backtest.objects.owned_by(user)[:50],
            "backtests_backtest",
            "backtests_bt_owner_created",
            True,
        ),
        "a user's backtests by status": (
            Backtest.objects.owned_by(user).filter(status="running"),
            "backtests_backtest",
            "backtests_bt_owner_status",
            True,
        ),
        "a user's sweeps, newest first": (
            Sweep.objects.owned_by(user)[:50],
            "backtests_sweep",
            "backtests_sw_owner_created",
            True,
        ),
        "a user's sweeps by status": (
            Sweep.objects.owned_by(user).filter(status="queued"),
            "backtests_sweep",
            "backtests_sw_owner_status",
            True,
        ),
    }


def _asset() -> Any:
    from apps.market.services import get_or_create_asset

    return get_or_create_asset(symbol="BTC-USD", owner=None)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
def test_hot_reads_search_an_index_on_sqlite(alice: Any) -> None:
    for name, (queryset, table, index, ordered) in hot_queries(alice).items():
        plan = queryset.explain()
        assert f"SCAN {table}" not in plan, (name, plan)
        assert f"SEARCH {table} USING " in plan and "INDEX" in plan, (name, plan)
        if index:
            assert f"USING INDEX {index} " in plan, (name, plan)
        if ordered:
            assert "TEMP B-TREE" not in plan, (name, plan)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_hot_reads_use_an_index_on_postgresql(alice: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    for name, (queryset, table, _index, _ordered) in hot_queries(alice).items():
        plan = queryset.explain()
        assert f"Seq Scan on {table}" not in plan, (name, plan)
        assert "Index" in plan, (name, plan)
