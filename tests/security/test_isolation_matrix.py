"""Owner isolation as a matrix over every URL pattern, API route and WebSocket route.

Every Django route with an object in its URL must be a row of
``apps.audit.access.OWNED_ROUTES`` (or of ``EXEMPT`` below, with its reason); the
first test fails naming any route that is neither. For each row and each HTTP method
the route accepts: bob asking for alice's object gets 404 exactly as for a missing
id (same status, same body), alice's things are unchanged afterwards, and each
attempt on her existing object leaves one ``access.denied`` audit record while a
missing id leaves none. Vera (viewer) changes nothing: every write of hers answers
403 and her own things are unchanged. Bob's sockets never receive alice's pushes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from apps.audit.access import ACTION, OWNED_ROUTES
from tests.security.world import build_world

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
WRITES = ("post", "put", "patch", "delete")
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
# Routes with a parameter that names no owned object, and why.
EXEMPT = {
    "admin/": "Django admin: staff only (admin's own permission checks)",
}
# What a URL keyword names in alice's world (the model's own id comes from the row).
MISSING = {"pk": 987654, "run_id": 987654, "job_id": 987654, "symbol": "NOPE-USD"}
FIXED = {"name": "start"}  # bots/<pk>/<name>/: the action's name
# Models whose rows must not change under another user's attempts.
SNAPSHOT_MODELS = (
    "market.Asset",
    "market.MarketImport",
    "mlmodels.MLModel",
    "mlmodels.TrainingRun",
    "mlmodels.ForecastJob",
    "mlmodels.Prediction",
    "backtests.Backtest",
    "backtests.Sweep",
    "bots.TradingBot",
    "bots.PaperAccount",
    "bots.Position",
    "bots.Order",
    "bots.Fill",
    "bots.JournalEntry",
)


def routes(resolver: Any = None, prefix: str = "") -> list[str]:
    """Every route string of the project, includes walked recursively."""
    resolver = resolver or get_resolver()
    out: list[str] = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            out.extend(routes(pattern, route))
        elif isinstance(pattern, URLPattern):
            out.append(route)
    return out


def object_routes() -> list[str]:
    return [r for r in routes() if PARAM.search(r) or "(?P<" in r]


def exempt(route: str) -> bool:
    return any(route.startswith(prefix) for prefix in EXEMPT)


def test_every_route_with_an_object_in_its_url_is_in_the_matrix() -> None:
    missing = [r for r in object_routes() if r not in OWNED_ROUTES and not exempt(r)]
    assert not missing, (
        "Routes with an object parameter but no isolation row; add one line per route "
        "to OWNED_ROUTES in apps/audit/access.py, e.g. "
        + ", ".join(f'"{r}": Owned("app.Model")' for r in missing)
    )
    stale = set(OWNED_ROUTES) - set(routes())
    assert not stale, f"OWNED_ROUTES rows for routes that no longer exist: {stale}"


def url(route: str, row: Any, world: dict[str, Any], *, missing: bool) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(2)
        if name in FIXED:
            return FIXED[name]
        if missing and name == row.kwarg:
            return str(MISSING[name])
        if name == row.kwarg:
            return str(
                world["private_symbol"] if name == "symbol" else world[row.model]
            )
        return str(world[name])

    return "/" + PARAM.sub(value, route)


def snapshot(owner: Any) -> dict[str, Any]:
    from django.apps import apps

    out = {}
    for label in SNAPSHOT_MODELS:
        model = apps.get_model(label)
        rows = model._default_manager.order_by("pk").values()
        out[label] = json.dumps(list(rows), default=str, sort_keys=True)
    return out


def denied(user: Any) -> list[Any]:
    from apps.audit.models import AuditLog

    return list(AuditLog.objects.filter(action=ACTION, user=user).order_by("seq"))


def call(client: Any, method: str, path: str, api: bool) -> Any:
    if api:
        return getattr(client, method)(path, {}, format="json")
    return getattr(client, method)(path)


CSRF = re.compile(rb"[A-Za-z0-9]{64}")  # a masked CSRF token differs per render


def body(response: Any, path: str) -> bytes:
    return CSRF.sub(b"<csrf>", response.content.replace(path.encode(), b""))


def signed_in(user: Any, password: str) -> tuple[Client, APIClient]:
    page = Client()
    page.force_login(user)
    api = APIClient()
    token = api.post(
        "/api/auth/token/", {"email": user.email, "password": password}, format="json"
    )
    assert token.status_code == 200, token.content
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    return page, api


@pytest.fixture
def world(alice: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.VAR_DIR = tmp_path
    return build_world(alice)


def test_another_user_gets_404_on_every_route_and_method_changes_nothing_and_is_audited(
    world: dict[str, Any], alice: Any, bob: Any, password: str
) -> None:
    page, api = signed_in(bob, password)
    before = snapshot(alice)
    problems: list[str] = []
    attempts = 0
    for route, row in OWNED_ROUTES.items():
        is_api = route.startswith("api/")
        client = api if is_api else page
        accepted = False
        for method in METHODS:
            real = url(route, row, world, missing=False)
            gone = url(route, row, world, missing=True)
            audits = len(denied(bob))
            r_missing = call(client, method, gone, is_api)
            after_missing = len(denied(bob))
            r_real = call(client, method, real, is_api)
            records = denied(bob)[after_missing:]
            where = f"{method.upper()} {real}"
            if r_real.status_code == r_missing.status_code == 405:
                continue  # the route does not take this method, for anyone
            accepted = True
            attempts += 1
            if r_real.status_code != 404 or r_missing.status_code != 404:
                problems.append(
                    f"{where}: {r_real.status_code} (missing id: "
                    f"{r_missing.status_code}), expected 404 for both"
                )
                continue
            if body(r_real, real) != body(r_missing, gone):
                problems.append(f"{where}: 404 body differs from a missing id's")
            if after_missing != audits:
                problems.append(f"{where}: a missing id was audited")
            if len(records) != 1:
                problems.append(f"{where}: {len(records)} audit records, expected 1")
                continue
            rec = records[0]
            expected_id = world["ETH-USD" if row.kwarg == "symbol" else row.model]
            if (
                rec.resource_type != row.model.lower()
                or rec.resource_id != str(expected_id)
                or rec.details != {"method": method.upper(), "path": real}
                or rec.actor_email != bob.email
            ):
                problems.append(
                    f"{where}: audit record {rec.resource_type} "
                    f"{rec.resource_id} {rec.details}"
                )
        if not accepted:
            problems.append(f"{route}: takes no method at all?")
    assert not problems, "\n".join(problems)
    assert attempts >= len(OWNED_ROUTES)
    assert snapshot(alice) == before, "alice's things changed under bob's attempts"
