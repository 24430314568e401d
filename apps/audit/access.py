"""Cross-owner access attempts: audited in one place, answered exactly as missing.

Every route that names an owned object is a row of ``OWNED_ROUTES`` (its Django
route string, the model, the URL keyword that names the object and the field it
matches). The views keep answering 404 for someone else's object exactly as for a
missing one; ``DeniedAccessAuditMiddleware`` then looks, for a signed-in caller's
404 on such a route, whether the object exists under another owner, and if so
appends an ``access.denied`` record (actor, model, object id, method, path; never a
body, query string or header). The same lookup runs for a truly missing id, and
both run after the response was sent, so neither its shape nor its timing tells the
two apart.

A new route with an object in its URL needs its row here:
tests/security/test_isolation_matrix.py fails naming the missing route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.http import HttpRequest, HttpResponse

from .services import record_event

ACTION = "access.denied"


@dataclass(frozen=True)
class Owned:
    model: str  # app_label.ModelName
    kwarg: str = "pk"
    field: str = "pk"
    owner: str = "owner"
    normalise: Callable[[Any], Any] | None = None


def _upper(value: Any) -> Any:
    return str(value).upper()


MODEL = Owned("mlmodels.MLModel")
BACKTEST = Owned("backtests.Backtest")
SWEEP = Owned("backtests.Sweep")
BOT = Owned("bots.TradingBot")
IMPORT = Owned("market.MarketImport")
ASSET = Owned("market.Asset", "symbol", "symbol", normalise=_upper)
WEBHOOK = Owned("webhooks.WebhookEndpoint")
DELIVERY = Owned("webhooks.WebhookDelivery", owner="endpoint__owner")

OWNED_ROUTES: dict[str, Owned] = {
    # pages
    "markets/imports/<int:pk>/": IMPORT,
    "markets/<str:symbol>/": ASSET,
    "markets/<str:symbol>/live/": ASSET,
    "models/<int:pk>/": MODEL,
    "models/<int:pk>/status/": MODEL,
    "models/<int:pk>/predictions/": MODEL,
    "models/<int:pk>/train/": MODEL,
    "models/<int:pk>/cancel/": MODEL,
    "models/<int:pk>/predict/": MODEL,
    "models/<int:pk>/delete/": MODEL,
    "backtests/<int:pk>/": BACKTEST,
    "backtests/<int:pk>/status/": BACKTEST,
    "backtests/<int:pk>/trades.csv": BACKTEST,
    "backtests/<int:pk>/delete/": BACKTEST,
    "backtests/sweeps/<int:pk>/": SWEEP,
    "backtests/sweeps/<int:pk>/status/": SWEEP,
    "backtests/sweeps/<int:pk>/delete/": SWEEP,
    "bots/<int:pk>/": BOT,
    "bots/<int:pk>/edit/": BOT,
    "bots/<int:pk>/compare/": BOT,
    "bots/<int:pk>/<str:name>/": BOT,
    "accounts/webhooks/<int:pk>/delete/": WEBHOOK,
    "accounts/webhooks/<int:pk>/test/": WEBHOOK,
    "accounts/webhooks/deliveries/<int:pk>/redeliver/": DELIVERY,
    # API
    "api/market/assets/<str:symbol>/": ASSET,
    "api/market/assets/<str:symbol>/candles/": ASSET,
    "api/market/assets/<str:symbol>/price/": ASSET,
    "api/market/assets/<str:symbol>/gaps/": ASSET,
    "api/market/assets/<str:symbol>/resample/": ASSET,
    "api/market/imports/<int:pk>/": IMPORT,
    "api/backtests/<int:pk>/": BACKTEST,
    "api/backtests/<int:pk>/trades/": BACKTEST,
    "api/backtests/<int:pk>/equity/": BACKTEST,
    "api/sweeps/<int:pk>/": SWEEP,
    "api/models/<int:pk>/": MODEL,
    "api/models/<int:pk>/train/": MODEL,
    "api/models/<int:pk>/cancel/": MODEL,
    "api/models/<int:pk>/predict/": MODEL,
    "api/models/<int:pk>/runs/": MODEL,
    "api/models/<int:pk>/runs/<int:run_id>/": MODEL,
    "api/models/<int:pk>/predictions/": MODEL,
    "api/models/<int:pk>/forecasts/<int:job_id>/": MODEL,
    "api/bots/<int:pk>/": BOT,
    "api/bots/<int:pk>/start/": BOT,
    "api/bots/<int:pk>/pause/": BOT,
    "api/bots/<int:pk>/stop/": BOT,
    "api/bots/<int:pk>/reset/": BOT,
    "api/bots/<int:pk>/orders/": BOT,
    "api/bots/<int:pk>/fills/": BOT,
    "api/bots/<int:pk>/position/": BOT,
    "api/bots/<int:pk>/journal/": BOT,
    "api/bots/<int:pk>/metrics/": BOT,
    "api/webhooks/<int:pk>/": WEBHOOK,
    "api/webhooks/<int:pk>/test/": WEBHOOK,
    "api/webhooks/<int:pk>/deliveries/": WEBHOOK,
    "api/webhooks/<int:pk>/deliveries/<int:delivery>/": WEBHOOK,
    "api/webhooks/<int:pk>/deliveries/<int:delivery>/redeliver/": WEBHOOK,
}


def foreign_object_id(request: HttpRequest) -> tuple[Owned, Any] | None:
    """(row, object id) when a signed-in caller's request names an object that
    exists and belongs to someone else; None otherwise."""
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    if match is None or user is None or not user.is_authenticated:
        return None
    row = OWNED_ROUTES.get(match.route)
    if row is None or row.kwarg not in match.kwargs:
        return None
    value = match.kwargs[row.kwarg]
    if row.normalise is not None:
        value = row.normalise(value)
    model = apps.get_model(row.model)
    pk = (
        model._default_manager.filter(**{row.field: value})
        .exclude(**{f"{row.owner}__isnull": True})
        .exclude(**{row.owner: user})
        .values_list("pk", flat=True)
        .first()
    )
    return None if pk is None else (row, pk)


def audit_denied(request: HttpRequest) -> None:
    found = foreign_object_id(request)
    if found is None:
        return
    row, pk = found
    record_event(
        action=ACTION,
        user=request.user,
        request=request,
        resource_type=row.model.lower(),
        resource_id=pk,
        details={"method": request.method, "path": request.path},
    )


class DeniedAccessAuditMiddleware:
    """After a 404 on an owned-object route, audit a cross-owner attempt once the
    response is on its way: the server calls ``close()`` after sending it, so the
    record's write does not delay the answer either."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 404:
            response._resource_closers.append(lambda: audit_denied(request))  # noqa: SLF001
        return response
