from __future__ import annotations

from typing import Any

from django.http import HttpRequest

NAV_ITEMS = [
    {"label": "Markets", "url_name": "market:index", "app": "market"},
    {"label": "Models", "url_name": "mlmodels:index", "app": "mlmodels"},
    {"label": "Backtests", "url_name": "backtests:index", "app": "backtests"},
    {"label": "Bots", "url_name": "bots:index", "app": "bots"},
]


def site(request: HttpRequest) -> dict[str, Any]:
    return {"site_name": "AAITI", "nav_items": NAV_ITEMS}
