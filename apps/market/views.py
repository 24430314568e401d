from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from .api import run_import
from .forms import ImportForm
from .live import render_fragment
from .models import TIMEFRAMES, Asset, MarketImport
from .prices import latest_price
from .selectors import series_info, sparkline_points, summarize, visible_assets

RANGES = {"7d": 7, "30d": 30, "90d": 90, "1y": 365, "all": None}


def _rows(user: object) -> list[dict[str, object]]:
    rows = []
    for asset in visible_assets(user):
        summary = summarize(asset)
        rows.append(
            {
                "asset": asset,
                "summary": summary,
                "live": render_fragment(asset, oob=False),
                "spark": sparkline_points(summary.spark),
            }
        )
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ImportForm(request.POST or None, request.FILES or None, user=user)
    if request.method == "POST":
        if not user.can_write:
            messages.error(request, "Your role is viewer: you cannot import data.")
            return redirect("market:index")
        if form.is_valid():
            record = run_import(user=user, data=form.cleaned_data, request=request)
            if record.status == MarketImport.Status.SUCCEEDED:
                messages.success(
                    request,
                    f"Imported {record.inserted} new bars of {record.symbol} "
                    f"{record.timeframe} ({record.unchanged} unchanged, "
                    f"{record.updated} updated, {record.skipped} skipped).",
                )
            else:
                messages.error(request, f"Import failed: {record.message}")
            return redirect("market:import", pk=record.pk)
    imports = MarketImport.objects.filter(owner=user)[:5]
    rows = _rows(user)
    streamed = ",".join(r["asset"].symbol for r in rows if r["asset"].owner_id is None)
    return render(
        request,
        "market/index.html",
        {"rows": rows, "form": form, "imports": imports, "streamed": streamed},
        status=400 if form.errors else 200,
    )


def replay_end(asset: Asset) -> str | None:
    quote = latest_price(asset)
    if quote.source == "replay" and quote.replay_time is not None:
        return quote.replay_time.isoformat().replace("+00:00", "Z")
    return None


@login_required
def asset_detail(request: HttpRequest, symbol: str) -> HttpResponse:
    try:
        asset = Asset.objects.resolve(request.user, symbol)
    except Asset.DoesNotExist as exc:
        raise Http404 from exc
    infos = series_info(asset)
    available = [i.timeframe for i in infos]
    timeframe = request.GET.get("tf") or (available[0] if available else "1h")
    if timeframe not in TIMEFRAMES:
        timeframe = available[0] if available else "1h"
    rng = request.GET.get("range", "90d")
    if rng not in RANGES:
        rng = "90d"
    return render(
        request,
        "market/asset.html",
        {
            "asset": asset,
            "infos": infos,
            "available": available,
            "timeframe": timeframe,
            "range": rng,
            "ranges": list(RANGES),
            "live": render_fragment(asset, oob=False),
            "streamed": asset.owner_id is None,
            "chart_config": {
                "symbol": asset.symbol,
                "timeframe": timeframe,
                "days": RANGES[rng],
                "available": timeframe in available,
                # Under replay the chart shows the market as of the replayed moment,
                # and the forming bar moves on from there.
                "end": replay_end(asset),
            },
        },
    )


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(MarketImport, pk=pk, owner=request.user)
    return render(request, "market/import.html", {"record": record})


@login_required
def live_fragment(request: HttpRequest, symbol: str) -> HttpResponse:
    """The live-price fragment over HTTP, for a page that missed a pushed message."""
    try:
        asset = Asset.objects.resolve(request.user, symbol)
    except Asset.DoesNotExist as exc:
        raise Http404 from exc
    return HttpResponse(render_fragment(asset, oob=False))
