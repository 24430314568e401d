"""Model services: create (quota, validation), training through the task body,
redelivery, cancel, failure, time limit, update and delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apps.audit.models import AuditLog
from apps.mlmodels import services
from apps.mlmodels.forecasters import read_artefact
from apps.mlmodels.models import MLModel, RunStatus, TrainingRun
from apps.system.services import update_setting

from .conftest import closes

pytestmark = pytest.mark.django_db


def actions(user: Any) -> list[str]:
    return list(AuditLog.objects.filter(user=user).values_list("action", flat=True))


def test_create_model_validates_params_with_the_registry(
    alice: Any, make_model: Any
) -> None:
    with pytest.raises(services.ModelRequestError) as err:
        make_model(alice, algorithm="arima", params={"p": 99})
    assert "params.p" in err.value.fields
    with pytest.raises(services.ModelRequestError) as err:
        make_model(alice, algorithm="nope")
    assert "algorithm" in err.value.fields
    with pytest.raises(services.ModelRequestError) as err:
        make_model(alice, symbol="DOGE-USD")
    assert "symbol" in err.value.fields


def test_create_model_fills_defaults_and_audits(alice: Any, make_model: Any) -> None:
    model = make_model(alice, algorithm="arima", params={"p": 2})
    assert model.params["p"] == 2 and "d" in model.params
    assert model.status == "untrained" and model.symbol == "BTC-USD"
    assert "model.created" in actions(alice)


def test_create_model_enforces_max_models_per_user(
    alice: Any, admin: Any, make_model: Any
) -> None:
    update_setting(key="max_models_per_user", value=1, actor=admin)
    make_model(alice, name="one")
    with pytest.raises(services.ModelRequestError) as err:
        make_model(alice, name="two")
    assert "limit of 1 models" in err.value.fields["non_field_errors"][0]
    assert MLModel.objects.filter(owner=alice).count() == 1


def test_start_training_creates_a_queued_run_and_audits(
    alice: Any,
    make_model: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
) -> None:
    sent = []
    from apps.mlmodels import tasks

    monkeypatch.setattr(
        tasks.train_model_task,
        "delay",
        lambda pk: sent.append(pk) or type("R", (), {"id": "t-1"})(),
    )
    model = make_model(alice)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.start_training(model=model, actor=alice)
    model.refresh_from_db()
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and model.status == "queued"
    assert sent == [run.pk] and run.celery_task_id == "t-1"
    assert "model.training_started" in actions(alice)
    with pytest.raises(services.ModelRequestError) as err:
        services.start_training(model=model, actor=alice, enqueue=False)
    assert err.value.status == 409


def test_training_stores_metrics_artefact_and_provenance(trained: Any) -> None:
    run = trained.trained_run
    assert trained.status == "trained" and run.status == RunStatus.TRAINED
    assert run.bars == 200 + 3 * 6  # max_train_bars + folds * horizon
    assert run.data_end is not None and len(run.data_sha256) == 64
    assert run.library_versions["numpy"] == np.__version__
    assert run.duration_seconds is not None and run.duration_seconds >= 0
    metrics = run.metrics["metrics"]
    assert {"mae", "rmse", "mase", "coverage", "skill"} <= set(metrics)
    # A naive model against the naive reference: identical errors, skill 0.
    assert metrics["skill"] == pytest.approx(0.0)
    assert trained.skill == pytest.approx(0.0)
    assert "naive forecast" in run.metrics["verdict"]
    path = Path(run.artefact_path)
    assert path.name == f"{run.pk}.zip"
    assert path.parent.name == str(trained.pk)
    assert path.parent.parent.name == str(trained.owner_id)
    assert read_artefact(path, run.artefact_sha256).meta["algorithm"] == "naive"
    assert len(run.chart["folds"]) == 3
    assert "model.trained" in actions(trained.owner)


def test_training_uses_only_bars_complete_at_market_time(
    alice: Any, make_model: Any, asset: Any
) -> None:
    model = make_model(alice, max_train_bars=100)
    times, values = services.training_data(model, services.market_now(asset, "1h"))
    assert values[-1] == pytest.approx(closes(300)[-1])
    # Under replay at the open of bar 250, bar 249 is the last complete one.
    from apps.market.prices import store_tick

    bar_250 = model.asset.candles.order_by("open_time")[250].open_time
    store_tick(
        asset_id=asset.pk, price=1.0, time=bar_250, source="replay", replay_time=bar_250
    )
    times, values = services.training_data(model, services.market_now(asset, "1h"))
    assert values[-1] == pytest.approx(closes(300)[249])


def test_redelivered_training_task_is_a_no_op(trained: Any) -> None:
    run = trained.trained_run
    before = (
        run.artefact_sha256,
        run.finished_at,
        Path(run.artefact_path).stat().st_mtime_ns,
    )
    assert services.run_training(run_id=run.pk) is None
    run.refresh_from_db()
    after = (
        run.artefact_sha256,
        run.finished_at,
        Path(run.artefact_path).stat().st_mtime_ns,
    )
    assert before == after
    assert TrainingRun.objects.filter(model=trained).count() == 1


def test_cancel_queued_run_cancels_at_once(alice: Any, make_model: Any) -> None:
    model = make_model(alice)
    run = services.start_training(model=model, actor=alice, enqueue=False)
    services.cancel_training(model=model, actor=alice)
    run.refresh_from_db()
    model.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and model.status == "untrained"
    assert services.run_training(run_id=run.pk) is None  # the message, if delivered
    assert "model.training_cancelled" in actions(alice)


def test_cancel_during_training_stops_at_the_next_check(
    alice: Any, make_model: Any, monkeypatch: Any
) -> None:
    model = make_model(alice)
    run = services.start_training(model=model, actor=alice, enqueue=False)
    real = services._Progress.fold_done

    def fold_done(self: Any, i: int, k: int) -> None:
        real(self, i, k)
        if i == 1:  # the user presses Cancel while fold 2 is due
            services.cancel_training(model=model, actor=alice)
            self.checked = 0.0

    monkeypatch.setattr(services._Progress, "fold_done", fold_done)
    services.run_training(run_id=run.pk)
    run.refresh_from_db()
    model.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and not run.artefact_path
    assert model.status == "untrained"


def test_failure_stores_its_error(alice: Any, make_model: Any) -> None:
    model = make_model(alice, horizon=100, folds=5, max_train_bars=200)
    run = services.start_training(model=model, actor=alice, enqueue=False)
    services.run_training(run_id=run.pk)
    run.refresh_from_db()
    model.refresh_from_db()
    assert run.status == RunStatus.FAILED and model.status == "failed"
    assert "too short" in run.error
    assert "model.training_failed" in actions(alice)


def test_soft_time_limit_fails_the_run_with_a_clear_error(
    alice: Any, make_model: Any, monkeypatch: Any
) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    def slow(*args: Any, **kwargs: Any) -> Any:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr("apps.mlmodels.evaluation.walk_forward", slow)
    model = make_model(alice)
    run = services.start_training(model=model, actor=alice, enqueue=False)
    services.run_training(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "time limit" in run.error


def test_update_model_renames_and_retraining_fields_reset(trained: Any) -> None:
    alice = trained.owner
    model = services.update_model(
        model=trained, actor=alice, changes={"name": "renamed"}
    )
    assert model.name == "renamed" and model.status == "trained"
    model = services.update_model(model=model, actor=alice, changes={"horizon": 12})
    assert model.status == "untrained" and model.trained_run is None
    with pytest.raises(services.ModelRequestError) as err:
        services.update_model(model=model, actor=alice, changes={"params": {"x": 1}})
    assert "params.x" in err.value.fields


def test_update_refused_while_training(alice: Any, make_model: Any) -> None:
    model = make_model(alice)
    services.start_training(model=model, actor=alice, enqueue=False)
    with pytest.raises(services.ModelRequestError) as err:
        services.update_model(model=model, actor=alice, changes={"name": "x"})
    assert err.value.status == 409


def test_delete_model_removes_artefacts(
    trained: Any, django_capture_on_commit_callbacks: Any
) -> None:
    folder = Path(trained.trained_run.artefact_path).parent
    assert folder.is_dir()
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_model(model=trained, actor=trained.owner)
    assert not folder.exists()
    assert not MLModel.objects.filter(pk=trained.pk).exists()
    assert "model.deleted" in actions(trained.owner)


def test_arima_trains_and_beats_or_reports_against_naive(
    alice: Any, make_model: Any
) -> None:
    model = make_model(alice, algorithm="arima", params={"p": 2, "d": 1, "q": 0})
    run = services.start_training(model=model, actor=alice, enqueue=False)
    services.run_training(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.TRAINED, run.error
    assert "statsmodels" in run.library_versions
    assert run.metrics["metrics"]["skill"] is not None
