"""Every write of backtests and sweeps: create, run (from a task), delete.

Pages, the API, the tasks and the ``backtest`` command call these. A job is
claimed with a conditional update (queued -> running) before any work, so a task
delivered twice does the work once; a claim older than the task time limit is
taken as a dead worker's and may be taken over.

Faults (README, "Faults and recovery"): a backtest's message is acknowledged only
when the task ends, so a worker that dies mid-run leaves it unacknowledged and the
broker delivers it again, flagged as redelivered; that delivery takes the running
claim over at once (its first holder is dead) and counts an attempt. After
MAX_ATTEMPTS deaths the job fails instead of killing workers forever. A job the
broker refuses (Redis down) is failed at once and QueueUnavailableError raised, so
no job waits as "queued" for a message that was never sent.
"""

from __future__ import annotations

import logging
import math
import os
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import redis.exceptions
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from apps import webhooks
from apps.audit.services import record_event
from apps.market.models import TIMEFRAMES, Asset, Candle
from apps.market.services import load_arrays
from apps.system.dashboard import push_dashboard
from apps.system.live import push_to_user_on_commit
from apps.system.services import get_setting

from . import sweep as sweeps
from .engine import OHLCV, BacktestConfig, BacktestInputError, run_backtest
from .metrics import compute_metrics, periods_per_year
from .models import Backtest, JobStatus, Sweep, SweepChunk, pack_equity
from .strategies import STRATEGIES, Strategy, StrategyParamError, get_strategy

logger = logging.getLogger(__name__)

CHART_POINTS = 2000
# A chunk loads the candles once (~70 ms for 17.5k bars from SQLite) and then runs
# its combinations (~1 ms each for a crossover on that series): chunks of at least
# SWEEP_CHUNK_SIZE keep the load a minor cost, at most SWEEP_MAX_CHUNKS tasks keep
# a large grid spread over every worker without flooding the queue.
SWEEP_CHUNK_SIZE = 50
SWEEP_MAX_CHUNKS = 32
MIN_BARS = 2
# Deliveries of one backtest whose worker died (SIGKILL, the OOM killer, a crash)
# before the job is failed rather than run again.
MAX_ATTEMPTS = 3
# What a Redis outage raises: kombu's error when a task cannot be published (after
# its publish retries), redis-py's from the cache (settings, token denylist).
QUEUE_ERRORS = (
    BrokerError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
NOT_QUEUED = (
    "Not run: the job queue (Redis) was unavailable when this job was submitted. "
    "Nothing was computed; submit it again."
)


class BacktestRequestError(ValueError):
    """Bad input for a backtest or a sweep: messages by field, for 400s and forms."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def _error(name: str, message: str) -> BacktestRequestError:
    return BacktestRequestError({name: [message]})


class QueueUnavailableError(RuntimeError):
    """The broker refused a new job: it is stored as failed (NOT_QUEUED), not run."""

    def __init__(self, job: Backtest | Sweep) -> None:
        super().__init__(f"{job} could not be queued: the job queue is unavailable")
        self.job = job


@dataclass
class JobRequest:
    """What the caller asked for, before it is checked."""

    symbol: str
    timeframe: str
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    initial_capital: float = 10_000.0
    fee_bps: float | None = None
    slippage_bps: float | None = None
    fraction: float = 1.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    # model_forecast only (model_driven.py): the owner's model id and refit mode.
    model: Any = None
    refit: str | None = None
    refit_every: Any = None


@dataclass
class CheckedJob:
    asset: Asset
    strategy: Strategy
    params: dict[str, Any]
    start: datetime
    end: datetime
    bars: int
    config: BacktestConfig
    model: Any = None  # the MLModel of a model-driven backtest


def runnable_strategies() -> dict[str, Strategy]:
    """Strategies a backtest can run on candles alone (not model-driven ones yet)."""
    return {k: s for k, s in STRATEGIES.items() if not s.inputs}


def backtest_strategies() -> dict[str, Strategy]:
    """Strategies a backtest can run: all of them, model-driven ones with a model."""
    return dict(STRATEGIES)


def check_request(
    *,
    owner: Any,
    req: JobRequest,
    validate_params: bool = True,
    models_allowed: bool = False,
) -> CheckedJob:
    """Resolve and check everything a job needs, or raise BacktestRequestError.
    ``models_allowed``: a backtest (not a sweep) may run a model-driven strategy."""
    try:
        asset = Asset.objects.resolve(owner, req.symbol or "")
    except Asset.DoesNotExist:
        raise _error("symbol", f"No market data for {req.symbol!r}.") from None
    if req.timeframe not in TIMEFRAMES:
        raise _error("timeframe", f"One of {', '.join(TIMEFRAMES)}.")
    try:
        strategy = get_strategy(req.strategy)
    except StrategyParamError as exc:
        raise _error("strategy", str(exc).split(": ", 1)[1]) from None
    if strategy.inputs and not models_allowed:
        raise _error(
            "strategy",
            f"{strategy.label} needs a model's predictions: run it as a backtest "
            "(page or API) with a model; sweeps and the backtest command take "
            "strategies on candles alone.",
        )
    params = dict(req.params or {})
    if validate_params:
        try:
            params = strategy.validate(params)
        except StrategyParamError as exc:
            raise BacktestRequestError({f"params.{exc.param}": [str(exc)]}) from None
    start, end = _period(asset, req)
    bars = Candle.objects.series(asset, req.timeframe, start, end).count()
    if bars < MIN_BARS:
        raise _error(
            "start",
            f"{asset.symbol} has {bars} {req.timeframe} candle{'s' if bars != 1 else ''} "
            f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC; at least "
            f"{MIN_BARS} are needed.",
        )
    config = _config(req, allow_short=bool(params.get("allow_short", False)))
    model = None
    if strategy.inputs:
        model, params = _check_model(owner, req, asset, start, bars, params)
    return CheckedJob(asset, strategy, params, start, end, bars, config, model)


def _check_model(
    owner: Any,
    req: JobRequest,
    asset: Asset,
    start: datetime,
    bars: int,
    params: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    from .model_driven import ModelInputError, check_model

    try:
        choice = check_model(
            owner=owner,
            asset=asset,
            timeframe=req.timeframe,
            start=start,
            bars=bars,
            model_id=req.model,
            refit=req.refit,
            refit_every=req.refit_every,
        )
    except ModelInputError as exc:
        raise _error(exc.field, str(exc)) from None
    return choice.model, {**params, **choice.params}


def _period(asset: Asset, req: JobRequest) -> tuple[datetime, datetime]:
    """Blank start or end means the stored series' own first or last bar."""
    start, end = req.start, req.end
    series = Candle.objects.series(asset, req.timeframe)
    if start is None:
        first = series.values_list("open_time", flat=True).first()
        start = first or datetime(1970, 1, 1, tzinfo=UTC)
    if end is None:
        last = series.order_by("-open_time").values_list("open_time", flat=True)
        last_time = last.first()
        end = (
            last_time + timedelta(seconds=TIMEFRAMES[req.timeframe])
            if last_time
            else timezone.now()
        )
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise _error("start", "Times need a time zone (UTC).")
    if start >= end:
        raise _error("end", "The end must be after the start.")
    return start, end


def _config(req: JobRequest, *, allow_short: bool) -> BacktestConfig:
    fee = req.fee_bps if req.fee_bps is not None else get_setting("default_fee_bps")
    slip = req.slippage_bps
    if slip is None:
        slip = get_setting("default_slippage_bps")
    try:
        return BacktestConfig(
            initial_capital=float(req.initial_capital),
            fee_bps=float(fee),
            slippage_bps=float(slip),
            fraction=float(req.fraction),
            allow_short=allow_short,
            stop_loss=req.stop_loss,
            take_profit=req.take_profit,
            trailing_stop=req.trailing_stop,
        )
    except BacktestInputError as exc:
        name = str(exc).split(" ", 1)[0]
        known = {"initial_capital", "fee_bps", "slippage_bps", "fraction"}
        known |= {"stop_loss", "take_profit", "trailing_stop"}
        raise _error(name if name in known else "non_field_errors", str(exc)) from None


def config_of(job: Backtest | Sweep, **extra: Any) -> BacktestConfig:
    return BacktestConfig(
        initial_capital=job.initial_capital,
        fee_bps=job.fee_bps,
        slippage_bps=job.slippage_bps,
        fraction=job.fraction,
        **extra,
    )


def load_ohlcv(
    asset: Asset, timeframe: str, start: datetime | None, end: datetime | None
) -> OHLCV:
    """Stored candles as engine input. Volume is unused by the strategies; a bar
    without volume gets 0 there (the database keeps it as unknown)."""
    a = load_arrays(asset, timeframe, start, end)
    volume = np.nan_to_num(a["volume"], nan=0.0)
    return OHLCV(a["time"], a["open"], a["high"], a["low"], a["close"], volume)


def compute_backtest(
    *,
    data: OHLCV,
    strategy: Strategy,
    params: dict[str, Any],
    config: BacktestConfig,
    timeframe: str,
) -> tuple[Any, dict[str, Any]]:
    """Signals, engine and metrics: the whole computation of one backtest."""
    target = strategy.signals(data, **params)
    result = run_backtest(data, target, config)
    metrics = compute_metrics(
        result, data, bars_per_year=periods_per_year(TIMEFRAMES[timeframe])
    )
    return result, metrics


# --- backtests -----------------------------------------------------------------


def create_backtest(
    *,
    owner: Any,
    req: JobRequest,
    request: HttpRequest | None = None,
    enqueue: bool = True,
) -> Backtest:
    """Check, store (queued), audit and, after commit, enqueue one backtest."""
    job = check_request(owner=owner, req=req, models_allowed=True)
    cfg = job.config
    with transaction.atomic():
        backtest = Backtest.objects.create(
            owner=owner,
            asset=job.asset,
            model=job.model,
            symbol=job.asset.symbol,
            timeframe=req.timeframe,
            strategy=job.strategy.name,
            params=job.params,
            start=job.start,
            end=job.end,
            initial_capital=cfg.initial_capital,
            fee_bps=cfg.fee_bps,
            slippage_bps=cfg.slippage_bps,
            fraction=cfg.fraction,
            stop_loss=cfg.stop_loss,
            take_profit=cfg.take_profit,
            trailing_stop=cfg.trailing_stop,
        )
        record_event(
            action="backtest.created",
            user=owner,
            request=request,
            resource=backtest,
            details=_describe(backtest),
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue_backtest(backtest))
    return backtest


def _enqueue_backtest(backtest: Backtest) -> None:
    """Send the task (after commit, so the worker finds the row). If Redis refuses
    it, fail the job at once and raise: nothing will ever deliver it."""
    from .tasks import run_backtest_task

    try:
        run_backtest_task.delay(backtest.pk)
    except QUEUE_ERRORS as exc:
        logger.warning("backtest %s not queued: broker unavailable", backtest.pk)
        _fail(backtest, NOT_QUEUED, from_status=JobStatus.QUEUED)
        raise QueueUnavailableError(backtest) from exc


def _describe(job: Backtest | Sweep) -> dict[str, Any]:
    model = {"model": job.model_id} if getattr(job, "model_id", None) else {}
    return {
        **model,
        "symbol": job.symbol,
        "private_data": bool(job.asset and job.asset.owner_id),
        "timeframe": job.timeframe,
        "strategy": job.strategy,
        "params": job.params,
        "start": job.start.isoformat(),
        "end": job.end.isoformat(),
        "initial_capital": job.initial_capital,
        "fee_bps": job.fee_bps,
        "slippage_bps": job.slippage_bps,
    }


def _claim(model: type[Sweep], pk: int) -> bool:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    claimable = Q(status=JobStatus.QUEUED) | Q(
        status=JobStatus.RUNNING, started_at__lt=stale
    )
    return (
        model.objects.filter(claimable, pk=pk).update(
            status=JobStatus.RUNNING, started_at=now
        )
        == 1
    )


def _dead_claim(*, redelivered: bool) -> Q:
    """Whose running claim may be taken over: any, when the message came back
    (``redelivered``: acknowledged late, a message returns when the worker holding
    it died, or lost its broker connection, or after the visibility timeout, which
    outlasts the time limit); otherwise only a claim older than the time limit."""
    if redelivered:
        return Q(status=JobStatus.RUNNING)
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    return Q(status=JobStatus.RUNNING, started_at__lt=stale)


def _claim_counted(
    model: type[Backtest] | type[SweepChunk], pk: int, *, redelivered: bool
) -> tuple[bool, Any]:
    """Queued -> running, counting the attempt; a dead holder's claim is taken over
    while attempts < MAX_ATTEMPTS. Returns (claimed, the worn-out row or None): the
    row whose MAX_ATTEMPTS-th delivery died, for the caller to fail."""
    dead = _dead_claim(redelivered=redelivered)
    claimable = Q(status=JobStatus.QUEUED) | (dead & Q(attempts__lt=MAX_ATTEMPTS))
    claimed = model.objects.filter(claimable, pk=pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
    )
    if claimed:
        return True, None
    return False, model.objects.filter(dead, pk=pk, attempts__gte=MAX_ATTEMPTS).first()


def _died_message(attempts: int) -> str:
    return (
        f"The worker died {attempts} times running this job (killed, out of memory "
        "or crashed); it is not retried again."
    )


def _claim_backtest(backtest_id: int, *, redelivered: bool) -> bool:
    """Queued -> running, counting the attempt. A running claim is taken over when
    its holder is dead (see _dead_claim). Should the holder still be alive (a lost
    connection), the result is still stored once: only by a conditional update
    from running. The MAX_ATTEMPTS-th death fails the job."""
    claimed, worn = _claim_counted(Backtest, backtest_id, redelivered=redelivered)
    if worn is not None:
        backtest = Backtest.objects.select_related("owner").get(pk=worn.pk)
        _fail(backtest, _died_message(backtest.attempts))
    return claimed


def _die_if_told(
    job_id: int, *, variable: str = "AAITI_TEST_KILL_WORKER_ON_JOB"
) -> None:
    """Test hook, only under AAITI_TESTING: SIGKILL this process once it has claimed
    the backtest named by AAITI_TEST_KILL_WORKER_ON_JOB (or the sweep chunk named by
    AAITI_TEST_KILL_WORKER_ON_CHUNK), as the OOM killer would, so tests can make a
    job that kills every worker that runs it."""
    if not settings.TESTING:
        return
    if os.environ.get(variable, "") == str(job_id):
        os.kill(os.getpid(), signal.SIGKILL)


def _progress(backtest: Backtest, value: int) -> None:
    Backtest.objects.filter(pk=backtest.pk, status=JobStatus.RUNNING).update(
        progress=value
    )
    backtest.progress = value
    push_backtest(backtest)


def run_backtest_job(*, backtest_id: int, redelivered: bool = False) -> Backtest | None:
    """Run a queued backtest and store its results; None if another delivery of the
    task has it (or it is gone, or its worker died MAX_ATTEMPTS times: then it is
    failed). ``redelivered``: the broker's flag that this message was delivered
    before and not acknowledged. A failure stores its message and never raises."""
    if not _claim_backtest(backtest_id, redelivered=redelivered):
        return None
    backtest = Backtest.objects.select_related("asset", "owner", "model").get(
        pk=backtest_id
    )
    _progress(backtest, 5)
    _die_if_told(backtest_id)
    try:
        if backtest.asset is None:
            raise BacktestInputError("the market data of this backtest was deleted")
        data = load_ohlcv(
            backtest.asset, backtest.timeframe, backtest.start, backtest.end
        )
        if len(data) < MIN_BARS:
            raise BacktestInputError(f"only {len(data)} candles in the period")
        _progress(backtest, 40)
        strategy = get_strategy(backtest.strategy)
        allow_short = bool(backtest.params.get("allow_short", False))
        result, metrics = compute_backtest(
            data=data,
            strategy=strategy,
            params=_signal_params(backtest, strategy, data),
            config=config_of(
                backtest,
                allow_short=allow_short,
                stop_loss=backtest.stop_loss,
                take_profit=backtest.take_profit,
                trailing_stop=backtest.trailing_stop,
            ),
            timeframe=backtest.timeframe,
        )
        _progress(backtest, 80)
        _store_result(backtest, result, metrics)
    except ValueError as exc:  # bad data or parameters: the user's message
        _fail(backtest, str(exc))
    except Exception as exc:  # a defect: logged in full, summarised to the user
        logger.exception("backtest %s failed", backtest_id)
        _fail(backtest, f"Internal error ({type(exc).__name__}); the run stopped.")
    # Deleted while it ran: nothing was stored, and nothing is left to return.
    return Backtest.objects.filter(pk=backtest_id).first()


def _signal_params(
    backtest: Backtest, strategy: Strategy, data: OHLCV
) -> dict[str, Any]:
    """The strategy's params; a model-driven one's plus its predictions, computed
    here in the worker (refits push progress from 40 % to 75 %)."""
    if not strategy.inputs:
        return backtest.params
    from .model_driven import compute_predictions, strategy_params

    shown = [40]

    def report(done: int, total: int) -> None:
        value = 40 + int(35 * done / max(total, 1))
        if value >= shown[0] + 5 or done == total:
            shown[0] = value
            _progress(backtest, value)

    predictions = compute_predictions(
        backtest=backtest, time=data.timestamp, close=data.close, progress=report
    )
    return {**strategy_params(backtest.params), "predictions": predictions}


def downsample_index(n: int, points: int = CHART_POINTS, keep: int = -1) -> np.ndarray:
    """At most ``points`` evenly spaced indexes of n, first and last (and ``keep``,
    e.g. the deepest drawdown) included."""
    if n <= points:
        return np.arange(n)
    idx = np.unique(np.linspace(0, n - 1, points - 1).round().astype(np.int64))
    if keep >= 0:
        idx = np.unique(np.append(idx, keep))
    return idx


def equity_chart(time: np.ndarray, equity: np.ndarray, capital: float) -> list[Any]:
    peak = np.maximum.accumulate(np.maximum(equity, capital)) if equity.size else equity
    drawdown = equity / peak - 1.0 if equity.size else equity
    keep = int(np.argmin(drawdown)) if equity.size else -1
    idx = downsample_index(equity.shape[0], keep=keep)
    return [
        [int(t), float(e), float(d)]
        for t, e, d in zip(time[idx], equity[idx], drawdown[idx], strict=True)
    ]


def _store_result(backtest: Backtest, result: Any, metrics: dict[str, Any]) -> None:
    values = {
        "status": JobStatus.SUCCEEDED,
        "progress": 100,
        "bars": int(result.equity.shape[0]),
        "final_capital": result.final_equity,
        "total_return": metrics["total_return"],
        "trade_count": len(result.trades),
        "metrics": metrics,
        "trades": result.trades.to_records(),
        "equity_chart": equity_chart(
            result.timestamp, result.equity, result.initial_capital
        ),
        "equity_blob": pack_equity(result.timestamp, result.equity),
        "finished_at": timezone.now(),
        "error": "",
    }
    with transaction.atomic():
        rows = Backtest.objects.filter(pk=backtest.pk, status=JobStatus.RUNNING).update(
            **values
        )
        if rows:
            record_event(
                action="backtest.succeeded",
                user=backtest.owner,
                resource=backtest,
                details={
                    "total_return": metrics["total_return"],
                    "trades": values["trade_count"],
                },
            )
            webhooks.backtest_completed(
                backtest, "succeeded", metrics=metrics, trades=values["trade_count"]
            )
    _refresh_and_push(backtest)


def _fail(
    backtest: Backtest, message: str, *, from_status: str = JobStatus.RUNNING
) -> None:
    with transaction.atomic():
        rows = Backtest.objects.filter(pk=backtest.pk, status=from_status).update(
            status=JobStatus.FAILED, error=message[:2000], finished_at=timezone.now()
        )
        if rows:
            record_event(
                action="backtest.failed",
                user=backtest.owner,
                resource=backtest,
                details={"error": message[:500]},
            )
            webhooks.backtest_completed(backtest, "failed", error=message)
    _refresh_and_push(backtest)


def _refresh_and_push(backtest: Backtest) -> None:
    if Backtest.objects.filter(pk=backtest.pk).exists():
        backtest.refresh_from_db()
        push_backtest(backtest)


def delete_backtest(
    *, backtest: Backtest, actor: Any, request: HttpRequest | None = None
) -> None:
    """Delete a backtest of the actor's (a running task finds it gone and stops)."""
    with transaction.atomic():
        record_event(
            action="backtest.deleted",
            user=actor,
            request=request,
            resource=backtest,
            details={"strategy": backtest.strategy, "symbol": backtest.symbol},
        )
        backtest.delete()


# --- live updates ----------------------------------------------------------------


def _push(user_id: int, html: str, topics: list[str]) -> None:
    push_to_user_on_commit(user_id, html, topics=topics)
    # The dashboard's "in progress" card follows every job's status and progress.
    push_dashboard(user_id, "jobs", on_commit=True)


def push_backtest(backtest: Backtest) -> None:
    html = render_to_string(
        "backtests/_status.html", {"backtest": backtest, "oob": True}
    )
    _push(backtest.owner_id, html, ["backtests", f"backtest:{backtest.pk}"])


def push_sweep(sweep: Sweep) -> None:
    html = render_to_string(
        "backtests/_sweep_status.html", {"sweep": sweep, "oob": True}
    )
    _push(sweep.owner_id, html, ["sweeps", f"sweep:{sweep.pk}"])


# --- sweeps -----------------------------------------------------------------------


def create_sweep(
    *,
    owner: Any,
    req: JobRequest,
    grid: dict[str, Any],
    metric: str = "sharpe",
    in_sample: float = 0.7,
    request: HttpRequest | None = None,
    enqueue: bool = True,
) -> Sweep:
    """Check the grid (at most ``sweep.MAX_COMBINATIONS`` points), store the sweep
    and its chunks, audit, and after commit fan the chunks out as a Celery group."""
    job = check_request(owner=owner, req=req, validate_params=False)
    if metric not in sweeps.RANK_METRICS:
        raise _error("metric", f"One of {', '.join(sweeps.RANK_METRICS)}.")
    if not 0.1 <= in_sample <= 0.9:
        raise _error("in_sample", "Between 0.1 and 0.9 of the bars.")
    try:
        values, combos, skipped = sweeps.expand_grid(job.strategy, grid, req.params)
    except sweeps.GridError as exc:
        raise _error("grid", str(exc)) from None
    except StrategyParamError as exc:
        raise BacktestRequestError({f"params.{exc.param}": [str(exc)]}) from None
    split = int(job.bars * in_sample)
    if split < MIN_BARS or job.bars - split < MIN_BARS:
        raise _error("in_sample", f"{job.bars} bars cannot be split {in_sample:.0%}.")
    series = Candle.objects.series(job.asset, req.timeframe, job.start, job.end)
    split_time = series.values_list("open_time", flat=True)[split]
    fixed = {k: v for k, v in combos[0].items() if k not in values}
    with transaction.atomic():
        sweep = Sweep.objects.create(
            owner=owner,
            asset=job.asset,
            symbol=job.asset.symbol,
            timeframe=req.timeframe,
            strategy=job.strategy.name,
            params=fixed,
            grid=values,
            metric=metric,
            in_sample=in_sample,
            start=job.start,
            end=job.end,
            initial_capital=job.config.initial_capital,
            fee_bps=job.config.fee_bps,
            slippage_bps=job.config.slippage_bps,
            fraction=job.config.fraction,
            combinations=len(combos),
            skipped=skipped,
            bars_in_sample=split,
            bars_out_sample=job.bars - split,
            split_time=split_time,
        )
        chunks = SweepChunk.objects.bulk_create(
            SweepChunk(sweep=sweep, index=i, combos=part)
            for i, part in enumerate(sweeps.chunked(combos, chunk_size(len(combos))))
        )
        sweep.chunks_total = len(chunks)
        sweep.save(update_fields=["chunks_total"])
        record_event(
            action="sweep.created",
            user=owner,
            request=request,
            resource=sweep,
            details={
                **_describe(sweep),
                "grid": values,
                "metric": metric,
                "combinations": len(combos),
            },
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue_sweep(sweep))
    return sweep


def _enqueue_sweep(sweep: Sweep) -> None:
    """As _enqueue_backtest. Chunks of a group sent before Redis failed find the
    sweep failed when they run and stop."""
    try:
        dispatch_sweep(sweep)
    except QUEUE_ERRORS as exc:
        logger.warning("sweep %s not queued: broker unavailable", sweep.pk)
        with transaction.atomic():
            rows = Sweep.objects.filter(pk=sweep.pk, status=JobStatus.QUEUED).update(
                status=JobStatus.FAILED, error=NOT_QUEUED, finished_at=timezone.now()
            )
            if rows:
                record_event(
                    action="sweep.failed",
                    user=sweep.owner,
                    resource=sweep,
                    details={"error": NOT_QUEUED},
                )
        raise QueueUnavailableError(sweep) from exc


def chunk_size(combinations: int) -> int:
    return max(SWEEP_CHUNK_SIZE, math.ceil(combinations / SWEEP_MAX_CHUNKS))


def dispatch_sweep(sweep: Sweep) -> None:
    """One task per chunk in a Celery group: every worker on the queue takes some."""
    from celery import group

    from .tasks import run_sweep_chunk_task

    ids = list(sweep.chunks.values_list("pk", flat=True))
    group(run_sweep_chunk_task.s(pk) for pk in ids).apply_async()


def run_sweep_chunk(*, chunk_id: int, redelivered: bool = False) -> SweepChunk | None:
    """Evaluate one chunk's combinations; the last chunk to finish ranks the sweep.
    None if another delivery has this chunk (or it is gone). Like a backtest, a
    chunk whose worker died is taken over by its redelivered message and counts an
    attempt; the MAX_ATTEMPTS-th death fails the chunk and its sweep, so one chunk
    that kills every worker cannot loop forever."""
    claimed, worn = _claim_counted(SweepChunk, chunk_id, redelivered=redelivered)
    if worn is not None:
        sweep = Sweep.objects.select_related("owner").get(pk=worn.sweep_id)
        _fail_sweep(sweep, worn, _died_message(worn.attempts))
        return SweepChunk.objects.filter(pk=chunk_id).first()
    if not claimed:
        return None
    chunk = SweepChunk.objects.select_related("sweep__asset").get(pk=chunk_id)
    sweep = chunk.sweep
    _die_if_told(chunk_id, variable="AAITI_TEST_KILL_WORKER_ON_CHUNK")
    if _claim(Sweep, sweep.pk):
        sweep.refresh_from_db()
        push_sweep(sweep)
    elif sweep.status != JobStatus.RUNNING:
        # The sweep failed (another chunk's error): this chunk's work is moot.
        SweepChunk.objects.filter(pk=chunk_id).update(status=JobStatus.FAILED)
        chunk.status = JobStatus.FAILED
        return chunk
    try:
        rows = _evaluate_chunk(sweep, chunk)
    except ValueError as exc:
        _fail_sweep(sweep, chunk, str(exc))
        return SweepChunk.objects.filter(pk=chunk_id).first()
    except Exception as exc:
        logger.exception("sweep %s chunk %s failed", sweep.pk, chunk.index)
        _fail_sweep(sweep, chunk, f"Internal error ({type(exc).__name__}).")
        return SweepChunk.objects.filter(pk=chunk_id).first()
    with transaction.atomic():
        done = SweepChunk.objects.filter(pk=chunk_id, status=JobStatus.RUNNING).update(
            status=JobStatus.SUCCEEDED, results=rows, finished_at=timezone.now()
        )
        if done:
            Sweep.objects.filter(pk=sweep.pk).update(chunks_done=F("chunks_done") + 1)
    _finish_sweep_if_done(sweep.pk)
    return SweepChunk.objects.filter(pk=chunk_id).first()


def _evaluate_chunk(sweep: Sweep, chunk: SweepChunk) -> list[dict[str, Any]]:
    if sweep.asset is None:
        raise BacktestInputError("the market data of this sweep was deleted")
    data = load_ohlcv(sweep.asset, sweep.timeframe, sweep.start, sweep.end)
    if len(data) != sweep.bars_in_sample + sweep.bars_out_sample:
        raise BacktestInputError(
            "the candles of the period changed while the sweep ran; start it again"
        )
    return sweeps.evaluate(
        data,
        get_strategy(sweep.strategy),
        chunk.combos,
        config_of(sweep),
        sweep.bars_in_sample,
        periods_per_year(TIMEFRAMES[sweep.timeframe]),
    )


def _finish_sweep_if_done(sweep_id: int) -> None:
    with transaction.atomic():
        sweep = Sweep.objects.select_for_update().filter(pk=sweep_id).first()
        if sweep is None or sweep.status != JobStatus.RUNNING:
            return  # deleted, failed, or finished by another chunk's task
        done = sweep.chunks.filter(status=JobStatus.SUCCEEDED).count()
        sweep.progress = min(99, int(100 * done / max(1, sweep.chunks_total)))
        if done < sweep.chunks_total:
            sweep.save(update_fields=["progress"])
        else:
            rows = [r for c in sweep.chunks.order_by("index") for r in c.results]
            sweep.results = sweeps.rank(rows, sweep.metric)
            sweep.status = JobStatus.SUCCEEDED
            sweep.progress = 100
            sweep.finished_at = timezone.now()
            sweep.save()
            best = sweep.results[0] if sweep.results else {}
            record_event(
                action="sweep.succeeded",
                user=sweep.owner,
                resource=sweep,
                details={"combinations": len(rows), "best": best.get("params")},
            )
    push_sweep(sweep)


def _fail_sweep(sweep: Sweep, chunk: SweepChunk, message: str) -> None:
    with transaction.atomic():
        SweepChunk.objects.filter(pk=chunk.pk).update(status=JobStatus.FAILED)
        rows = Sweep.objects.filter(
            pk=sweep.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).update(
            status=JobStatus.FAILED, error=message[:2000], finished_at=timezone.now()
        )
        if rows:
            record_event(
                action="sweep.failed",
                user=sweep.owner,
                resource=sweep,
                details={"error": message[:500]},
            )
    if rows:
        sweep.refresh_from_db()
        push_sweep(sweep)


def run_sweep_inline(sweep: Sweep) -> Sweep:
    """Every chunk in this process, in order (tests, the benchmark's reference)."""
    for pk in sweep.chunks.values_list("pk", flat=True):
        run_sweep_chunk(chunk_id=pk)
    sweep.refresh_from_db()
    return sweep


def delete_sweep(
    *, sweep: Sweep, actor: Any, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        record_event(
            action="sweep.deleted",
            user=actor,
            request=request,
            resource=sweep,
            details={"strategy": sweep.strategy, "symbol": sweep.symbol},
        )
        sweep.delete()
