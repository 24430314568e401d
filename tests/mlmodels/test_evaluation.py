"""Walk-forward evaluation: metrics by hand, no look-ahead, callbacks, verdicts."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.mlmodels import evaluation as ev
from apps.mlmodels.forecasters import Cancelled, ParamError
from apps.mlmodels.forecasters.base import FitContext
from apps.mlmodels.forecasters.naive import NaiveForecaster


def random_walk(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 + np.cumsum(rng.normal(0, 1, n))


# -- metrics by hand ------------------------------------------------------------
ACTUAL = [10.0, 12.0, 14.0]
PRED = [11.0, 11.0, 17.0]  # errors -1, +1, -3


def test_point_metrics_by_hand() -> None:
    assert ev.mae(ACTUAL, PRED) == pytest.approx(5 / 3)
    assert ev.rmse(ACTUAL, PRED) == pytest.approx(np.sqrt(11 / 3))
    assert ev.mape(ACTUAL, PRED) == pytest.approx(100 * (1 / 10 + 1 / 12 + 3 / 14) / 3)
    assert ev.smape(ACTUAL, PRED) == pytest.approx(200 * (1 / 21 + 1 / 23 + 3 / 31) / 3)


def test_mase_scales_by_in_sample_naive_mae() -> None:
    train = [1.0, 3.0, 2.0, 6.0]  # naive errors 2, 1, 4 -> 7/3; seasonal(2): 1, 3 -> 2
    assert ev.mase(ACTUAL, PRED, train) == pytest.approx((5 / 3) / (7 / 3))
    assert ev.mase(ACTUAL, PRED, train, season=2) == pytest.approx((5 / 3) / 2)


def test_directional_accuracy_and_coverage_by_hand() -> None:
    # Moves from 12: actual -2, 0, +2; forecast -1, -1, +5 -> signs agree 2 of 3.
    assert ev.directional_accuracy(ACTUAL, PRED, 12.0) == pytest.approx(2 / 3)
    assert ev.coverage(ACTUAL, [9, 12.5, 13], [11, 13, 14]) == pytest.approx(2 / 3)


def test_skill_and_undefined_cases() -> None:
    assert ev.skill_score(1.0, 2.0) == pytest.approx(0.5)
    assert ev.skill_score(3.0, 2.0) == pytest.approx(-0.5)
    assert np.isnan(ev.skill_score(1.0, 0.0))
    assert np.isnan(ev.mape([0.0, 1.0], [1.0, 1.0]))
    assert ev.smape([0.0], [0.0]) == 0.0


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50).flatmap(
        lambda a: st.tuples(
            st.just(a), st.lists(st.floats(-1e6, 1e6), min_size=len(a), max_size=len(a))
        )
    )
)
def test_metric_properties(pair: tuple[list[float], list[float]]) -> None:
    actual, predicted = pair
    assert ev.mae(actual, predicted) <= ev.rmse(actual, predicted) * (1 + 1e-12) + 1e-9
    assert 0 <= ev.smape(actual, predicted) <= 200 + 1e-9
    assert ev.mae(actual, actual) == 0


# -- folds and leakage -------------------------------------------------------------
def test_fold_cutoffs_tile_the_tail() -> None:
    assert ev.fold_cutoffs(100, horizon=10, folds=3) == [70, 80, 90]
    assert ev.fold_cutoffs(100, horizon=10, folds=3, step=5) == [80, 85, 90]


class SpyNaive(NaiveForecaster):
    """Records every training series it is given."""

    seen: ClassVar[list[np.ndarray]] = []

    def _fit(self, y: np.ndarray, timestamps: Any, ctx: FitContext) -> None:
        SpyNaive.seen.append(y.copy())
        super()._fit(y, timestamps, ctx)


def test_each_fold_trains_strictly_before_its_cutoff() -> None:
    y = random_walk(200)
    SpyNaive.seen = []
    result = ev.walk_forward(y, SpyNaive, horizon=10, folds=4, max_train=50)
    assert [f.cutoff for f in result.folds] == [160, 170, 180, 190]
    for fold, trained in zip(result.folds, SpyNaive.seen, strict=True):
        assert fold.train_start == fold.cutoff - 50
        np.testing.assert_array_equal(trained, y[fold.cutoff - 50 : fold.cutoff])
        np.testing.assert_array_equal(fold.actual, y[fold.cutoff : fold.cutoff + 10])


@pytest.mark.parametrize(
    ("algorithm", "params"),
    [("drift", {}), ("arima", {"p": 1, "d": 1, "q": 1})],
)
def test_data_after_a_cutoff_cannot_change_that_fold(
    algorithm: str, params: dict[str, Any]
) -> None:
    y = random_walk(240)
    kwargs = {"horizon": 12, "folds": 3}
    first = ev.walk_forward(y, algorithm, params, **kwargs)
    cutoff = first.folds[0].cutoff
    changed = y.copy()
    changed[cutoff:] *= 1.5  # rewrite the whole future of fold 1
    second = ev.walk_forward(changed, algorithm, params, **kwargs)
    np.testing.assert_array_equal(
        first.folds[0].forecast.mean, second.folds[0].forecast.mean
    )
    np.testing.assert_array_equal(
        first.folds[0].forecast.upper, second.folds[0].forecast.upper
    )
    # Later folds do see the change, so the comparison above can fail.
    assert not np.array_equal(
        first.folds[1].forecast.mean, second.folds[1].forecast.mean
    )


def test_pooled_metrics_match_hand_pooling() -> None:
    y = random_walk(150)
    result = ev.walk_forward(y, "drift", horizon=5, folds=3)
    actual = np.concatenate([f.actual for f in result.folds])
    mean = np.concatenate([f.forecast.mean for f in result.folds])
    naive = np.concatenate([np.full(5, y[f.cutoff - 1]) for f in result.folds])
    assert result.metrics["rmse"] == pytest.approx(ev.rmse(actual, mean))
    assert result.naive_metrics["rmse"] == pytest.approx(ev.rmse(actual, naive))
    expected_skill = 1 - ev.rmse(actual, mean) / ev.rmse(actual, naive)
    assert result.skill == pytest.approx(expected_skill)
    assert result.metrics["mase"] == pytest.approx(
        np.mean(
            [ev.mase(f.actual, f.forecast.mean, y[: f.cutoff]) for f in result.folds]
        )
    )
    assert set(result.as_dict()["metrics"]) >= {"mae", "coverage", "skill", "smape"}


# -- verdicts ---------------------------------------------------------------------
def test_verdict_says_plainly_when_model_loses() -> None:
    y = random_walk(300, seed=2)
    result = ev.walk_forward(y, "seasonal_naive", {"season": 24}, horizon=24, folds=4)
    assert result.skill < 0
    assert result.verdict.startswith(
        f"loses to the naive forecast: skill {result.skill:.2f}"
    )


def test_verdict_for_naive_itself_is_a_tie() -> None:
    result = ev.walk_forward(random_walk(100), "naive", horizon=5, folds=2)
    assert result.skill == 0
    assert result.verdict.startswith("ties with the naive forecast: skill 0.00")


def test_verdict_wording_by_hand() -> None:
    text = ev.verdict({"skill": -0.1234, "coverage": 0.5}, 0.95, 5, 24)
    assert text == (
        "loses to the naive forecast: skill -0.12 over 5 folds of 24 bars; "
        "its 95% interval held 50% of actual prices (too narrow)"
    )
    assert ev.verdict({"skill": 0.2}, 0.8, 1, 6).startswith(
        "beats the naive forecast: skill 0.20"
    )


# -- callbacks and guards -------------------------------------------------------------
def test_progress_reports_each_fold() -> None:
    calls: list[tuple[int, int]] = []
    ev.walk_forward(
        random_walk(100),
        "naive",
        horizon=5,
        folds=3,
        progress=lambda i, k: calls.append((i, k)),
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_cancel_hook_aborts_between_folds() -> None:
    calls: list[int] = []
    with pytest.raises(Cancelled):
        ev.walk_forward(
            random_walk(100),
            "naive",
            horizon=5,
            folds=3,
            progress=lambda i, k: calls.append(i),
            should_cancel=lambda: len(calls) >= 1,
        )
    assert calls == [1]


def test_lstm_epoch_progress_flows_through_walk_forward() -> None:
    epochs: list[tuple[int, int]] = []
    params = {"window": 16, "units": 4, "epochs": 1, "random_seed": 3}
    result = ev.walk_forward(
        random_walk(200),
        "lstm",
        params,
        horizon=6,
        folds=2,
        on_epoch=lambda i, k: epochs.append((i, k)),
    )
    assert epochs == [(1, 1), (1, 1)]
    assert len(result.folds) == 2


def test_series_too_short_for_folds_is_a_param_error() -> None:
    with pytest.raises(ParamError, match="too short") as info:
        ev.walk_forward(random_walk(30), "arima", horizon=10, folds=3)
    assert info.value.field == "folds"
    with pytest.raises(ParamError):
        ev.walk_forward(random_walk(100), "arima", {"p": 7})
