"""Every write of forecasting models: create, change, delete, train, cancel,
forecast, score. Pages, the API, the Celery tasks and beat call these.

Heavy libraries: this module imports only the forecaster *registry* (numpy, no
statsmodels / prophet / tensorflow); an algorithm's library is imported inside its
``fit`` or ``load``, which run in the worker (``run_training``, ``run_forecast``).

Market time ("now"). Under the replay feed, the replayed market time
(``latest_price(asset).replay_time``) is "now"; with a live feed the last tick's
time; with no feed the end of the series' last stored bar (see ``market_now``). A bar
with open time ``t`` is complete once ``t + timeframe <= now``. Training sees only
complete bars, a forecast starts after the last bar the model trained on, and a
prediction for the bar opening at ``target_time`` is scored (against that stored
bar's close) once that bar is complete at market time. So a model trained while
the replay stands at T never sees the replayed "future" that is already stored.

Training is claimed with a conditional update (queued -> training) before any
work, so a redelivered task does nothing; a claim older than the task's hard time
limit counts as a dead worker's and may be taken over. The artefact is written
atomically (temp file + rename, sidecar checksum) by the forecaster's ``save``.
"""

from __future__ import annotations

from .common import (
    DRIFT_MIN_SCORED,
    DRIFT_RATIO,
    LEVEL_CHOICES,
    MAX_FORECAST_GAP,
    ModelRequestError,
    algorithms,
    artefact_dir,
    complete_before,
    latest_run,
    market_now,
    predictions_context,
    push_model,
    push_predictions,
)
from .crud import (
    ModelSpec,
    check_params,
    check_spec,
    create_model,
    delete_model,
    update_model,
)
from .forecasts import (
    LiveAccuracy,
    leaderboard,
    live_accuracy,
    request_forecast,
    run_forecast,
    run_schedules,
    score_predictions,
)
from .training import (
    _Progress,
    cancel_training,
    data_checksum,
    library_versions,
    run_training,
    start_training,
    training_data,
)

__all__ = [
    "DRIFT_MIN_SCORED",
    "DRIFT_RATIO",
    "LEVEL_CHOICES",
    "MAX_FORECAST_GAP",
    "LiveAccuracy",
    "ModelRequestError",
    "ModelSpec",
    "_Progress",
    "algorithms",
    "artefact_dir",
    "cancel_training",
    "check_params",
    "check_spec",
    "complete_before",
    "create_model",
    "data_checksum",
    "delete_model",
    "latest_run",
    "leaderboard",
    "library_versions",
    "live_accuracy",
    "market_now",
    "predictions_context",
    "push_model",
    "push_predictions",
    "request_forecast",
    "run_forecast",
    "run_schedules",
    "run_training",
    "score_predictions",
    "start_training",
    "training_data",
    "update_model",
]
