"""The dashboard: what the user owns, counted, and what is moving now.

Each live card is one partial of ``system/dashboard.html`` with a stable id, rendered
by the same context function on the first load and on every push (topic
``dashboard`` of the owner's /ws/me/ stream):

- ``paper``: total paper equity across the user's bots (each marked at its asset's
  latest price) against their starting cash, and the running bots;
- ``fills``: the latest fills of any of the user's bots;
- ``predictions``: each model's latest forecast and latest scored prediction;
- ``jobs``: training runs, backtests and sweeps queued or in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string

from .live import push_to_user

PARTS = ("paper", "fills", "predictions", "jobs")
TOPIC = "dashboard"
LATEST = 8


@dataclass(frozen=True)
class Section:
    title: str
    count: int | None
    empty_text: str
    url_name: str
    detail: str = ""


def dashboard_sections(user: Any) -> list[Section]:
    """Real counts of what the user owns; None where a feature has not shipped."""
    from apps.market.models import Asset

    return [
        Section(
            "Markets",
            Asset.objects.visible_to(user).count(),
            "No market data yet.",
            "market:index",
            "markets",
        ),
        Section(
            "Models",
            user.ml_models.count(),
            "No forecasting models yet.",
            "mlmodels:index",
            "forecasting models",
        ),
        Section(
            "Backtests",
            user.backtests.count(),
            "No backtests yet.",
            "backtests:index",
            "stored with their results",
        ),
        Section(
            "Bots",
            user.bots.count(),
            "No paper-trading bots yet.",
            "bots:index",
            "paper-trading bots",
        ),
    ]


def paper_context(owner_id: int) -> dict[str, Any]:
    from apps.bots.live import mark_latest
    from apps.bots.models import TradingBot

    bots = mark_latest(
        TradingBot.objects.filter(owner_id=owner_id).select_related(
            "asset", "account", "position"
        )
    )
    equity = sum(
        (Decimal(b.metrics.get("equity") or b.account.cash) for b in bots), Decimal(0)
    )
    start = sum((b.account.starting_cash for b in bots), Decimal(0))
    profit = equity - start
    running = [b for b in bots if b.status == TradingBot.Status.RUNNING]
    return {
        "bot_count": len(bots),
        "paper_equity": equity,
        "paper_start": start,
        "paper_profit": profit,
        "paper_return": float(profit / start * 100) if start else 0.0,
        "running_bots": running,
        "paused_count": sum(b.status == TradingBot.Status.PAUSED for b in bots),
    }


def fills_context(owner_id: int) -> dict[str, Any]:
    from apps.bots.models import Fill

    fills = (
        Fill.objects.filter(bot__owner_id=owner_id)
        .select_related("bot__asset")
        .order_by("-created_at", "-pk")[:LATEST]
    )
    return {"latest_fills": list(fills)}


def predictions_context(owner_id: int) -> dict[str, Any]:
    """Each model's latest finished forecast: its next bar, the last bar it reaches,
    and the model's latest prediction already scored against its candle."""
    from apps.mlmodels.models import ForecastJob, JobStatus, Prediction

    jobs = (
        ForecastJob.objects.filter(model__owner_id=owner_id, status=JobStatus.DONE)
        .select_related("model")
        .order_by("-finished_at", "-pk")
    )
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for job in jobs[:100]:
        if job.model_id in seen:
            continue
        seen.add(job.model_id)
        predictions = list(job.predictions.order_by("horizon"))
        if not predictions:
            continue
        scored = (
            Prediction.objects.filter(model_id=job.model_id, actual__isnull=False)
            .order_by("-target_time", "-pk")
            .first()
        )
        rows.append(
            {
                "model": job.model,
                "next": predictions[0],
                "last": predictions[-1],
                "scored": scored,
            }
        )
        if len(rows) >= LATEST:
            break
    return {"latest_predictions": rows}


def jobs_context(owner_id: int) -> dict[str, Any]:
    from apps.backtests.models import FINAL_STATUSES, Backtest, Sweep
    from apps.mlmodels.models import ACTIVE_RUN, TrainingRun

    runs = (
        TrainingRun.objects.filter(model__owner_id=owner_id, status__in=ACTIVE_RUN)
        .select_related("model")
        .order_by("created_at", "pk")
    )
    backtests = (
        Backtest.objects.filter(owner_id=owner_id)
        .exclude(status__in=FINAL_STATUSES)
        .only("pk", "strategy", "symbol", "timeframe", "status", "progress")
        .order_by("created_at", "pk")
    )
    sweeps = (
        Sweep.objects.filter(owner_id=owner_id)
        .exclude(status__in=FINAL_STATUSES)
        .only("pk", "strategy", "symbol", "timeframe", "status", "progress")
        .order_by("created_at", "pk")
    )
    return {
        "active_runs": list(runs[:20]),
        "active_backtests": list(backtests[:20]),
        "active_sweeps": list(sweeps[:20]),
    }


CONTEXTS = {
    "paper": paper_context,
    "fills": fills_context,
    "predictions": predictions_context,
    "jobs": jobs_context,
}


def live_context(owner_id: int) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for build in CONTEXTS.values():
        context.update(build(owner_id))
    return context


def render_parts(owner_id: int, parts: tuple[str, ...]) -> str:
    html = []
    for part in parts:
        context = {**CONTEXTS[part](owner_id), "oob": True}
        html.append(render_to_string(f"system/dashboard.html#{part}", context))
    return "".join(html)


def dashboard_part(owner_id: int, *parts: str) -> tuple[list[str], str]:
    """The named cards as one (topics, html) part of a multi-part push."""
    return [TOPIC], render_parts(owner_id, parts or PARTS)


def push_dashboard(owner_id: int, *parts: str, on_commit: bool = False) -> None:
    """Render the named cards (all by default) and push them to the owner's
    dashboard; with ``on_commit``, rendered and sent after the transaction."""
    parts = parts or PARTS
    if on_commit:
        from django.db import transaction

        transaction.on_commit(
            lambda: push_to_user(
                owner_id, render_parts(owner_id, parts), topics=[TOPIC]
            )
        )
        return
    push_to_user(owner_id, render_parts(owner_id, parts), topics=[TOPIC])
