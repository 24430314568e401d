from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.backtests.engine import (
    EXIT_REASONS,
    BacktestConfig,
    BacktestInputError,
    BacktestResult,
    load_csv,
    run_backtest,
)
from tests.backtests.helpers import HOUR, T0, bars, random_targets, random_walk

FAST = settings(max_examples=50, deadline=None)
SAMPLE = Path("/work/shared/data/market/bitfinex-1h-btc-usd.csv")


def cfg(**kwargs: object) -> BacktestConfig:
    base: dict[str, object] = {"initial_capital": 10_000.0, "fee_bps": 0.0}
    base.update(kwargs)
    return BacktestConfig(**base)  # type: ignore[arg-type]


def reasons(result: BacktestResult) -> list[str]:
    return [EXIT_REASONS[r] for r in result.trades.exit_reason]


# --- hand-computed cases -------------------------------------------------------


def test_fill_at_next_open_with_fee_and_slippage_hand_computed() -> None:
    data = bars([100, 100, 110, 120], [100, 105, 115, 125])
    result = run_backtest(data, [1, 1, 0, 0], cfg(fee_bps=10, slippage_bps=20))
    entry = 100 * 1.002  # decided at bar 0's close, bought at bar 1's open
    qty = 10_000 / (entry * 1.001)
    exit_ = 120 * 0.998  # decided at bar 1... target 0 at bar 2 -> sold at bar 3's open
    fee_in, fee_out = qty * entry * 0.001, qty * exit_ * 0.001
    profit = qty * (exit_ - entry) - fee_in - fee_out
    t = result.trades
    assert len(t) == 1
    assert (t.entry_bar[0], t.exit_bar[0], t.bars_held[0]) == (1, 3, 2)
    assert t.entry_time[0] == T0 + HOUR and t.exit_time[0] == T0 + 3 * HOUR
    assert t.entry_price[0] == pytest.approx(100.2, rel=1e-12)
    assert t.exit_price[0] == pytest.approx(119.76, rel=1e-12)
    assert t.quantity[0] == pytest.approx(qty, rel=1e-12)
    assert t.fees[0] == pytest.approx(fee_in + fee_out, rel=1e-12)
    assert t.profit[0] == pytest.approx(profit, rel=1e-12)
    assert t.returns[0] == pytest.approx(profit / 10_000, rel=1e-12)
    assert reasons(result) == ["signal"]
    expected_equity = [
        10_000,
        10_000 + qty * (105 - entry) - fee_in,
        10_000 + qty * (115 - entry) - fee_in,
        10_000 + profit,
    ]
    np.testing.assert_allclose(result.equity, expected_equity, rtol=1e-12)
    assert result.positions.tolist() == [0, 1, 1, 0]
    assert result.cash[1] == pytest.approx(0.0, abs=1e-9)  # all in


def test_stop_loss_hit_inside_bar_exits_at_stop_price() -> None:
    data = bars([100, 100, 99, 99], [100, 99, 97, 99], lows=[100, 98, 94, 99])
    result = run_backtest(data, [1, 1, 1, 1], cfg(stop_loss=0.05))
    t = result.trades
    assert reasons(result) == ["stop_loss"]
    assert t.exit_price[0] == pytest.approx(95.0)
    assert (t.exit_bar[0], t.bars_held[0]) == (2, 2)
    assert t.profit[0] == pytest.approx(100 * (95 - 100))
    assert result.positions.tolist() == [0, 1, 0, 0]  # stays out: target unchanged


def test_stop_and_target_in_same_bar_assumes_stop_first() -> None:
    data = bars(
        [100, 100, 100, 100],
        [100, 100, 100, 100],
        highs=[100, 101, 112, 100],
        lows=[100, 99, 94, 100],
    )
    result = run_backtest(data, [1, 1, 1, 1], cfg(stop_loss=0.05, take_profit=0.10))
    assert reasons(result) == ["stop_loss"]
    assert result.trades.exit_price[0] == pytest.approx(95.0)


def test_stop_level_is_relative_to_the_entry_fill_price() -> None:
    # fill 100 * 1.01 = 101, stop 101 * 0.95 = 95.95: a low of 95.9 reaches it
    data = bars([100, 100, 99, 99], [100, 99, 97, 99], lows=[100, 98, 95.9, 99])
    result = run_backtest(data, [1, 1, 1, 1], cfg(stop_loss=0.05, slippage_bps=100))
    assert reasons(result) == ["stop_loss"]
    assert result.trades.exit_price[0] == pytest.approx(95.95 * 0.99)


def test_take_profit_hit_exits_at_target() -> None:
    data = bars([100, 100, 100, 100], [100, 100, 100, 100], highs=[100, 101, 112, 100])
    result = run_backtest(data, [1, 1, 1, 1], cfg(stop_loss=0.05, take_profit=0.10))
    assert reasons(result) == ["take_profit"]
    assert result.trades.exit_price[0] == pytest.approx(110.0)


def test_gap_through_stop_fills_at_open_not_stop() -> None:
    data = bars([100, 100, 90, 90], [100, 100, 92, 90])
    result = run_backtest(data, [1, 1, 1, 1], cfg(stop_loss=0.05, slippage_bps=10))
    t = result.trades
    assert reasons(result) == ["stop_loss"]
    assert t.exit_price[0] == pytest.approx(90 * 0.999)  # the open, less slippage
    assert (t.exit_bar[0], t.bars_held[0]) == (2, 1)


def test_trailing_stop_trails_previous_highs_only() -> None:
    # Bar 1 reaches 120 then 95 in unknown order: its own high must not arm
    # a 108 stop for itself; from bar 2 the stop is 120 * 0.9 = 108.
    data = bars(
        [100, 100, 110, 110],
        [100, 110, 110, 110],
        highs=[100, 120, 111, 110],
        lows=[100, 95, 107, 110],
    )
    result = run_backtest(data, [1, 1, 1, 1], cfg(trailing_stop=0.10))
    t = result.trades
    assert reasons(result) == ["trailing_stop"]
    assert (t.exit_bar[0], t.exit_price[0]) == (2, pytest.approx(108.0))


def test_short_trade_profit_hand_computed() -> None:
    data = bars([100, 100, 90, 80], [100, 95, 85, 80])
    result = run_backtest(data, [-1, -1, 0, 0], cfg(allow_short=True, fee_bps=10))
    qty = 10_000 / (100 * 1.001)
    profit = qty * (100 - 80) - qty * 100 * 0.001 - qty * 80 * 0.001
    t = result.trades
    assert t.side.tolist() == [-1]
    assert t.profit[0] == pytest.approx(profit, rel=1e-12)
    assert result.equity[1] == pytest.approx(10_000 + qty * 5 - qty * 0.1, rel=1e-12)
    assert result.final_equity == pytest.approx(10_000 + profit, rel=1e-12)


def test_short_stop_loss_above_entry() -> None:
    data = bars([100, 100, 100, 100], [100, 100, 100, 100], highs=[100, 100, 104, 100])
    result = run_backtest(data, [-1, -1, -1, -1], cfg(allow_short=True, stop_loss=0.03))
    assert reasons(result) == ["stop_loss"]
    assert result.trades.exit_price[0] == pytest.approx(103.0)


def test_no_trade_opens_once_a_short_has_wiped_out_the_equity() -> None:
    data = bars([100, 100, 300, 300, 300], [100, 100, 300, 300, 300])
    config = cfg(allow_short=True)
    result = run_backtest(data, [-1, 0, -1, -1, -1], config)
    # 100 units short at 100, bought back at 300: -20k on 10k of capital
    assert len(result.trades) == 1
    assert result.final_equity == pytest.approx(-10_000.0)
    assert result.positions.tolist() == [0, -1, 0, 0, 0]


def test_short_trailing_stop_trails_the_lowest_low() -> None:
    # short at 100; bar 1 trades down to 80, so bar 2's stop is 80 * 1.1 = 88
    data = bars(
        [100, 100, 85, 85],
        [100, 85, 85, 85],
        highs=[100, 100, 89, 85],
        lows=[100, 80, 84, 85],
    )
    config = cfg(allow_short=True, trailing_stop=0.10)
    result = run_backtest(data, [-1, -1, -1, -1], config)
    assert reasons(result) == ["trailing_stop"]
    assert (result.trades.exit_bar[0], result.trades.exit_price[0]) == (
        2,
        pytest.approx(88.0),
    )


def test_gap_through_take_profit_fills_at_the_better_open() -> None:
    data = bars([100, 100, 115, 115], [100, 100, 115, 115])
    result = run_backtest(data, [1, 1, 1, 1], cfg(take_profit=0.10))
    assert reasons(result) == ["take_profit"]
    assert result.trades.exit_price[0] == 115.0
    assert result.trades.bars_held[0] == 1


def test_long_only_treats_short_targets_as_flat() -> None:
    data = bars([100, 100, 90, 80], [100, 95, 85, 80])
    result = run_backtest(data, [-1, -1, 0, 0], cfg())
    assert len(result.trades) == 0
    assert result.final_equity == 10_000


def test_open_position_closed_at_last_close_with_fees() -> None:
    data = bars([100, 100, 110], [100, 105, 120])
    result = run_backtest(data, [1, 1, 1], cfg(fee_bps=10))
    assert reasons(result) == ["end"]
    t = result.trades
    assert (t.exit_bar[0], t.exit_price[0], t.bars_held[0]) == (2, 120.0, 2)
    assert t.exit_fee[0] == pytest.approx(t.quantity[0] * 120 * 0.001)


def test_buy_and_hold_equals_price_ratio_less_fees() -> None:
    data = random_walk(7, 500)
    result = run_backtest(data, np.ones(500), cfg(fee_bps=10, slippage_bps=5))
    ratio = data.close[-1] * 0.9995 * 0.999 / (data.open[1] * 1.0005 * 1.001)
    assert result.final_equity == pytest.approx(10_000 * ratio, rel=1e-12)


def test_fraction_sizing_commits_that_share_of_equity() -> None:
    data = bars([100, 100, 200], [100, 100, 200])
    result = run_backtest(data, [1, 1, 1], cfg(fraction=0.25))
    assert result.trades.quantity[0] == pytest.approx(25.0)
    assert result.cash[1] == pytest.approx(7_500.0)
    assert result.final_equity == pytest.approx(12_500.0)


def test_fractional_target_scales_the_position() -> None:
    data = bars([100, 100, 200], [100, 100, 200])
    result = run_backtest(data, [0.5, 0.5, 0.5], cfg())
    assert result.trades.quantity[0] == pytest.approx(50.0)
    assert result.positions.tolist() == [0, 0.5, 0]


def test_notional_sizing_is_fixed_and_capped_at_equity() -> None:
    data = bars([100, 100, 50, 50, 50], [100, 100, 50, 50, 50])
    config = cfg(sizing="notional", notional=4_000.0)
    result = run_backtest(data, [1, 0, 1, 1, 1], config)
    assert result.trades.quantity.tolist() == pytest.approx([40.0, 80.0])
    capped = run_backtest(data, [1, 0, 1, 1, 1], cfg(sizing="notional", notional=1e9))
    # all 10k at 100, then the 5k left at 50: the cap follows the equity
    assert capped.trades.quantity.tolist() == pytest.approx([100.0, 100.0])


def test_no_reentry_after_stop_until_target_changes() -> None:
    data = bars(
        [100] * 6, [100, 100, 100, 100, 100, 100], lows=[100, 100, 90, 100, 100, 100]
    )
    result = run_backtest(data, [1, 1, 1, 0, 1, 1], cfg(stop_loss=0.05))
    assert result.trades.entry_bar.tolist() == [1, 5]
    assert reasons(result) == ["stop_loss", "end"]


def test_change_of_size_exits_and_reenters() -> None:
    data = bars([100, 100, 100, 100], [100, 100, 100, 100])
    result = run_backtest(data, [0.5, 1, 1, 1], cfg())
    assert result.trades.entry_bar.tolist() == [1, 2]
    assert result.trades.exposure.tolist() == [0.5, 1.0]


@pytest.mark.parametrize(
    ("target", "message"),
    [([2, 0, 0], "within \\[-1, 1\\]"), ([1, 0], "one per bar")],
)
def test_bad_targets_are_rejected(target: list[float], message: str) -> None:
    with pytest.raises(BacktestInputError, match=message):
        run_backtest(bars([1, 1, 1], [1, 1, 1]), target)


def test_bad_config_and_data_are_rejected() -> None:
    with pytest.raises(BacktestInputError, match="fraction"):
        BacktestConfig(fraction=1.5)
    with pytest.raises(BacktestInputError, match="stop_loss"):
        BacktestConfig(stop_loss=0.0)
    with pytest.raises(BacktestInputError, match="low <= open"):
        bars([100, 100], [100, 100], highs=[99, 100])
    with pytest.raises(BacktestInputError, match="mode"):
        run_backtest(
            bars([1, 1], [1, 1]), [0, 0], cfg(stop_loss=0.1), mode="vectorized"
        )


def test_empty_and_single_bar_inputs() -> None:
    assert run_backtest(bars([], []), []).final_equity == 10_000
    one = run_backtest(bars([100], [100]), [1])
    assert len(one.trades) == 0 and one.equity.tolist() == [10_000]


def test_datetime64_timestamps_are_accepted() -> None:
    data = bars([100, 100], [100, 100])
    as_dt = dataclasses.replace(data, timestamp=data.timestamp.astype("datetime64[s]"))
    assert as_dt.timestamp.tolist() == data.timestamp.tolist()


def test_load_csv_sorts_newest_first_rows(tmp_path: Path) -> None:
    path = tmp_path / "candles.csv"
    path.write_text(
        "Date,Symbol,Open,High,Low,Close,VolumeFrom,VolumeTo\n"
        "2019-07-04 01:00,BTCUSD,11849.99,11880.0,11790.01,11849.69,303.61,1\n"
        "2019-07-04 00:00,BTCUSD,11976.42,12064.26,11812.01,11849.99,1627.53,1\n"
    )
    data = load_csv(path)
    assert data.timestamp.tolist() == [1562198400, 1562202000]
    assert data.close.tolist() == [11849.99, 11849.69]
    assert data.volume.tolist() == [1627.53, 303.61]


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample data not present")
def test_load_csv_reads_the_hourly_sample() -> None:
    data = load_csv(SAMPLE)
    assert len(data) == 17_583 and data.bar_seconds == HOUR


# --- properties ------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(2, 120)
configs = st.builds(
    BacktestConfig,
    fee_bps=st.sampled_from([0.0, 7.5, 10.0]),
    slippage_bps=st.sampled_from([0.0, 5.0]),
    allow_short=st.booleans(),
    fraction=st.sampled_from([0.3, 1.0]),
    stop_loss=st.sampled_from([None, 0.02, 0.05]),
    take_profit=st.sampled_from([None, 0.03]),
    trailing_stop=st.sampled_from([None, 0.04]),
)


def _run(
    seed: int, n: int, config: BacktestConfig
) -> tuple[object, np.ndarray, BacktestResult]:
    data = random_walk(seed, n)
    target = random_targets(seed, n, config.allow_short)
    return data, target, run_backtest(data, target, config)


def _same_trades(a: BacktestResult, b: BacktestResult) -> None:
    for f in dataclasses.fields(a.trades):
        left, right = getattr(a.trades, f.name), getattr(b.trades, f.name)
        np.testing.assert_array_equal(left, right, err_msg=f.name)


@FAST
@given(seed=seeds, n=sizes, config=configs)
def test_final_equity_is_capital_plus_sum_of_trade_profits(
    seed: int, n: int, config: BacktestConfig
) -> None:
    _, _, result = _run(seed, n, config)
    expected = config.initial_capital + result.trades.profit.sum()
    assert result.final_equity == pytest.approx(expected, rel=1e-9, abs=1e-6)
    net = (
        result.trades.side
        * result.trades.quantity
        * (result.trades.exit_price - result.trades.entry_price)
        - result.trades.fees
    )
    np.testing.assert_allclose(result.trades.profit, net, rtol=1e-9, atol=1e-6)


@FAST
@given(seed=seeds, n=sizes, config=configs)
def test_long_only_never_holds_negative_cash_or_position(
    seed: int, n: int, config: BacktestConfig
) -> None:
    config = dataclasses.replace(config, allow_short=False)
    _, _, result = _run(seed, n, config)
    assert np.all(result.cash >= -1e-9 * config.initial_capital)
    assert np.all(result.positions >= 0)
    assert np.all(result.trades.quantity >= 0)
    assert np.all(result.equity > 0)


@FAST
@given(seed=seeds, n=sizes, config=configs)
def test_same_inputs_give_the_same_trade_list(
    seed: int, n: int, config: BacktestConfig
) -> None:
    _, _, first = _run(seed, n, config)
    _, _, second = _run(seed, n, config)
    assert first.trades.to_records() == second.trades.to_records()
    np.testing.assert_array_equal(first.equity, second.equity)


@FAST
@given(seed=seeds, n=sizes, config=configs)
def test_vectorized_and_loop_paths_agree_exactly_without_stops(
    seed: int, n: int, config: BacktestConfig
) -> None:
    config = dataclasses.replace(
        config, stop_loss=None, take_profit=None, trailing_stop=None
    )
    data = random_walk(seed, n)
    target = random_targets(seed, n, config.allow_short)
    vec = run_backtest(data, target, config, mode="vectorized")
    loop = run_backtest(data, target, config, mode="loop")
    _same_trades(vec, loop)
    for name in ("equity", "cash", "positions"):
        np.testing.assert_array_equal(
            getattr(vec, name), getattr(loop, name), err_msg=name
        )


@FAST
@given(seed=seeds, n=sizes, config=configs, cut=st.floats(0.0, 1.0))
def test_changing_bars_after_t_changes_nothing_up_to_t_plus_1(
    seed: int, n: int, config: BacktestConfig, cut: float
) -> None:
    data, target, before = _run(seed, n, config)
    t = min(int(cut * (n - 1)), n - 2)
    other = random_walk(seed + 17, n)
    # Everything after bar t changes except bar t+1's open, where t's decision fills.
    keep_open = data.open[t + 1]
    o = np.concatenate((data.open[: t + 1], [keep_open], other.open[t + 2 :]))
    c = np.concatenate((data.close[: t + 1], other.close[t + 1 :]))
    h = np.concatenate((data.high[: t + 1], other.high[t + 1 :]))
    lo = np.concatenate((data.low[: t + 1], other.low[t + 1 :]))
    h[t + 1] = max(h[t + 1], keep_open, c[t + 1])
    lo[t + 1] = min(lo[t + 1], keep_open, c[t + 1])
    changed = bars(o, c, h, lo)
    new_target = np.concatenate(
        (target[: t + 1], random_targets(seed + 5, n, True)[t + 1 :])
    )
    after = run_backtest(changed, new_target, config)
    for name in ("equity", "cash", "positions"):
        np.testing.assert_array_equal(
            getattr(before, name)[: t + 1], getattr(after, name)[: t + 1]
        )
    closed_a = int(np.sum(before.trades.exit_bar <= t))
    closed_b = int(np.sum(after.trades.exit_bar <= t))
    assert before.trades.to_records()[:closed_a] == after.trades.to_records()[:closed_b]
    opened_a = before.trades.entry_bar <= t + 1
    opened_b = after.trades.entry_bar <= t + 1
    for name in ("entry_bar", "side", "entry_price", "quantity", "entry_fee"):
        np.testing.assert_array_equal(
            getattr(before.trades, name)[opened_a],
            getattr(after.trades, name)[opened_b],
        )
