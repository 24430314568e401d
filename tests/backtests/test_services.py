"""Backtest services: checks, the run through the service, storage, audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from apps.audit.models import AuditLog
from apps.backtests import services
from apps.backtests.engine import BacktestConfig, run_backtest
from apps.backtests.metrics import compute_metrics, periods_per_year
from apps.backtests.models import Backtest
from apps.backtests.services import BacktestRequestError, JobRequest
from apps.backtests.strategies import get_strategy
from tests.backtests.helpers import json_close

from .conftest import START, make_asset

pytestmark = pytest.mark.django_db


def req(**kw: Any) -> JobRequest:
    base = {"symbol": "BTC-USD", "timeframe": "1h", "strategy": "sma_cross"}
    base["params"] = {"fast": 5, "slow": 20}
    return JobRequest(**{**base, **kw})


def run(owner: Any, **kw: Any) -> Backtest:
    backtest = services.create_backtest(owner=owner, req=req(**kw), enqueue=False)
    result = services.run_backtest_job(backtest_id=backtest.pk)
    assert result is not None
    return result


def test_hand_checked_buy_and_hold_through_the_service(alice: Any) -> None:
    # Opens 100, 110, 120, 130; closes 110, 120, 130, 135. Signal at bar 0's close
    # fills at bar 1's open (110); the position closes at the last close (135).
    make_asset("BTC-USD", [110.0, 120.0, 130.0, 135.0])
    backtest = run(
        alice, strategy="buy_and_hold", params={}, fee_bps=10.0, slippage_bps=0.0
    )
    assert backtest.status == "succeeded"
    qty = 10_000 / (110 * 1.001)
    final = qty * 135 * 0.999
    assert backtest.final_capital == pytest.approx(final, rel=1e-12)
    assert backtest.total_return == pytest.approx(final / 10_000 - 1, rel=1e-12)
    assert backtest.trade_count == 1
    trade = backtest.trades[0]
    assert trade["entry_price"] == 110.0 and trade["exit_price"] == 135.0
    assert trade["exit_reason"] == "end"
    times, equity = backtest.full_equity()
    assert equity.tolist() == pytest.approx([10_000, qty * 120, qty * 130, final])
    assert times[0] == int(START.timestamp())


def test_service_result_equals_the_engine_on_the_same_candles(
    alice: Any, btc: Any
) -> None:
    backtest = run(alice, fee_bps=10.0, slippage_bps=5.0, stop_loss=0.03)
    data = services.load_ohlcv(btc, "1h", None, None)
    strategy = get_strategy("sma_cross")
    cfg = BacktestConfig(fee_bps=10.0, slippage_bps=5.0, stop_loss=0.03)
    result = run_backtest(data, strategy.signals(data, fast=5, slow=20), cfg)
    expected = compute_metrics(result, data, bars_per_year=periods_per_year(3600))
    assert json_close(backtest.metrics, expected)
    assert json_close(backtest.trades, result.trades.to_records())
    assert np.array_equal(backtest.full_equity()[1], result.equity)
    assert backtest.bars == 300 and backtest.trade_count == len(result.trades)


def test_blank_costs_take_the_system_defaults(alice: Any, btc: Any) -> None:
    from apps.system.services import update_setting

    update_setting(key="default_fee_bps", value=7.5, actor=None)
    backtest = services.create_backtest(owner=alice, req=req(), enqueue=False)
    assert backtest.fee_bps == 7.5
    assert backtest.slippage_bps == 5.0  # the registry's default


def test_blank_period_means_the_whole_stored_series(alice: Any, btc: Any) -> None:
    backtest = services.create_backtest(owner=alice, req=req(), enqueue=False)
    assert backtest.start == START
    assert backtest.end == START + timedelta(hours=300)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"symbol": "NOPE-USD"}, "symbol"),
        ({"timeframe": "2h"}, "timeframe"),
        ({"strategy": "astrology"}, "strategy"),
        ({"strategy": "model_forecast", "params": {}}, "model"),
        ({"params": {"fast": 50, "slow": 20}}, "params.fast"),
        ({"params": {"fast": 5, "slow": 20, "lag": 3}}, "params.lag"),
        ({"params": {"fast": "five"}}, "params.fast"),
        ({"start": START + timedelta(days=5), "end": START}, "end"),
        ({"start": START - timedelta(days=50), "end": START}, "start"),
        ({"fraction": 0.0}, "fraction"),
        ({"stop_loss": 1.5}, "stop_loss"),
    ],
)
def test_bad_requests_name_the_field_and_write_nothing(
    alice: Any, btc: Any, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(BacktestRequestError) as caught:
        services.create_backtest(owner=alice, req=req(**change), enqueue=False)
    assert field in caught.value.fields
    assert not Backtest.objects.exists()


def test_a_backtest_uses_the_owners_private_data(
    alice: Any, bob: Any, btc: Any
) -> None:
    mine = make_asset("BTC-USD", [float(x) for x in range(101, 131)], owner=alice)
    a = services.create_backtest(owner=alice, req=req(), enqueue=False)
    b = services.create_backtest(owner=bob, req=req(), enqueue=False)
    assert a.asset == mine and b.asset == btc


def test_a_failed_run_stores_its_message(alice: Any, btc: Any) -> None:
    backtest = services.create_backtest(owner=alice, req=req(), enqueue=False)
    Backtest.objects.filter(pk=backtest.pk).update(params={"fast": 5, "slow": 2})
    result = services.run_backtest_job(backtest_id=backtest.pk)
    assert result.status == "failed"
    assert "fast" in result.error and "slow" in result.error
    assert AuditLog.objects.filter(action="backtest.failed").count() == 1


def test_create_run_delete_are_audited(alice: Any, btc: Any) -> None:
    backtest = run(alice)
    services.delete_backtest(backtest=backtest, actor=alice)
    actions = list(
        AuditLog.objects.filter(action__startswith="backtest.")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["backtest.created", "backtest.succeeded", "backtest.deleted"]
    assert not Backtest.objects.exists()


def test_equity_chart_is_downsampled_and_keeps_the_deepest_drawdown() -> None:
    n = 10_000
    equity = np.linspace(100.0, 200.0, n)
    equity[7_777] = 50.0
    chart = services.equity_chart(np.arange(n), equity, 100.0)
    assert len(chart) <= services.CHART_POINTS
    assert chart[0][0] == 0 and chart[-1][0] == n - 1
    assert min(p[2] for p in chart) == pytest.approx(50.0 / equity[7_776] - 1)


def test_the_whole_sample_runs_through_the_service(alice: Any, sample_btc: Any) -> None:
    backtest = run(alice, params={"fast": 20, "slow": 50})
    assert backtest.status == "succeeded"
    assert backtest.bars == 17_583
    assert len(backtest.equity_chart) <= services.CHART_POINTS
    assert backtest.metrics["bars"] == 17_583
