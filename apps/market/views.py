from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from .api import run_import
from .forms import ImportForm
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
                "quote": latest_price(asset),
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
    return render(
        request,
        "market/index.html",
        {"rows": _rows(user), "form": form, "imports": imports},
        status=400 if form.errors else 200,
    )


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
            "quote": latest_price(asset),
            "chart_config": {
                "symbol": asset.symbol,
                "timeframe": timeframe,
                "days": RANGES[rng],
                "available": timeframe in available,
            },
        },
    )


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(MarketImport, pk=pk, owner=request.user)
    return render(request, "market/import.html", {"record": record})
