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
MISSING = {
    "pk": 987654,
    "run_id": 987654,
    "job_id": 987654,
    "delivery": 987654,
    "symbol": "NOPE-USD",
}
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
    "webhooks.WebhookEndpoint",
    "webhooks.WebhookDelivery",
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


# A viewer's own account pages and sign-in flows are theirs to use.
VIEWER_MAY_WRITE = {
    "accounts/login/",
    "accounts/signup/",
    "accounts/logout/",
    "accounts/password/",
    "accounts/profile/",
    # two-factor sign-in: a viewer manages their own second factor
    "accounts/login/code/",
    "accounts/two-factor/",
    "accounts/two-factor/start/",
    "accounts/two-factor/setup/",
    "accounts/two-factor/qr.svg",
    "api/auth/token/",
    "api/auth/token/refresh/",
    "api/auth/token/verify/",
    "api/auth/logout/",
    "api/auth/password/",
    "api/me/",
}


def viewer_refusal(response: Any) -> bool:
    from django.contrib.messages import get_messages

    texts = [str(m) for m in get_messages(response.wsgi_request)]
    return any(t.startswith("Your role is viewer") for t in texts)


def test_a_viewer_gets_403_on_every_write_and_changes_nothing(
    vera: Any, password: str, settings: Any, tmp_path: Any
) -> None:
    settings.VAR_DIR = tmp_path
    world = build_world(vera)  # a viewer's own things (made before the role mattered)
    page, api = signed_in(vera, password)
    before = snapshot(vera)
    problems: list[str] = []
    checked = 0
    targets = [(route, OWNED_ROUTES[route]) for route in OWNED_ROUTES]
    targets += [
        (route, None)
        for route in routes()
        if not PARAM.search(route)
        and not exempt(route)
        and route not in VIEWER_MAY_WRITE
        and not route.startswith(("api/schema", "api/docs", "api/redoc", "metrics"))
    ]
    for route, row in targets:
        is_api = route.startswith("api/")
        client = api if is_api else page
        path = "/" + route if row is None else url(route, row, world, missing=False)
        client.get(path)  # shows (and so clears) any flash message still pending
        read = body(client.get(path, HTTP_HX_REQUEST="true"), path)
        for method in WRITES:
            if is_api:
                response = call(client, method, path, is_api)
            else:  # as htmx sends them; some forms also post plainly (see below)
                response = getattr(client, method)(path, HTTP_HX_REQUEST="true")
            if response.status_code == 405:
                continue
            if response.status_code == 200 and body(response, path) == read:
                continue  # a read page that ignores the method: the same page
            checked += 1
            if response.status_code == 302 and not is_api and viewer_refusal(response):
                continue  # a plain form post: redirected with the refusal message
            if response.status_code != 403:
                problems.append(f"{method.upper()} {path}: {response.status_code}")
    assert not problems, "viewer writes not refused with 403:\n" + "\n".join(problems)
    assert checked >= 30
    assert snapshot(vera) == before, "a viewer's writes changed something"


# --- WebSockets -------------------------------------------------------------------

WS_MATRIX = {
    "ws/me/": "group user.<id> from the session's own user; no id in the URL",
    "ws/prices/": "groups of shared symbols only; another user's private symbol "
    "is never joined",
}


def test_every_websocket_route_is_in_the_matrix() -> None:
    from aaiti.routing import websocket_urlpatterns

    found = {str(p.pattern) for p in websocket_urlpatterns}
    assert found == set(WS_MATRIX), (
        f"WebSocket routes without an isolation row in WS_MATRIX: "
        f"{sorted(found - set(WS_MATRIX))}; stale rows: {sorted(set(WS_MATRIX) - found)}"
    )


def _socket(user: Any, path: str, query: str = "") -> Any:
    from channels.testing import WebsocketCommunicator

    from aaiti.routing import websocket_urlpatterns

    consumer = next(p for p in websocket_urlpatterns if str(p.pattern) == path)
    comm = WebsocketCommunicator(consumer.callback, f"/{path}?{query}")
    comm.scope["user"] = user
    comm.scope["query_string"] = query.encode()
    return comm


@pytest.mark.django_db(transaction=True)
def test_another_user_never_receives_alices_private_stream(
    alice: Any, bob: Any
) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from apps.system.consumers import user_group

    async def scenario() -> None:
        topics = "topics=dashboard,bots"
        mine, theirs = _socket(alice, "ws/me/", topics), _socket(bob, "ws/me/", topics)
        # bob also tries to name alice in the URL: the stream is the session's own
        sneaky = _socket(
            bob, "ws/me/", f"{topics}&user={alice.pk}&group=user.{alice.pk}"
        )
        for comm in (mine, theirs, sneaky):
            assert (await comm.connect())[0]
        await get_channel_layer().group_send(
            user_group(alice.pk),
            {"type": "push.html", "parts": [[["dashboard"], "<p>alice only</p>"]]},
        )
        assert await mine.receive_from(timeout=3) == "<p>alice only</p>"
        assert await theirs.receive_nothing(timeout=0.5)
        assert await sneaky.receive_nothing(timeout=0.2)
        for comm in (mine, theirs, sneaky):
            await comm.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_another_users_private_symbol_is_never_subscribed(alice: Any, bob: Any) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from apps.market.live import group_name
    from apps.market.models import Asset

    Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")
    Asset.objects.create(symbol="SECRET-USD", base="SECRET", quote="USD", owner=alice)

    async def push(symbol: str, html: str) -> None:
        await get_channel_layer().group_send(
            group_name(symbol), {"type": "price.update", "html": html, "seq": 1}
        )

    async def scenario() -> None:
        only = _socket(bob, "ws/prices/", "symbols=SECRET-USD")
        mixed = _socket(bob, "ws/prices/", "symbols=BTC-USD,SECRET-USD")
        connected, _ = await only.connect()
        assert (await mixed.connect())[0]
        await push("SECRET-USD", "<b>secret</b>")
        await push("BTC-USD", "<b>shared</b>")
        # the shared symbol arrives (so the socket works), the private one never
        assert await mixed.receive_from(timeout=3) == "<b>shared</b>"
        assert await mixed.receive_nothing(timeout=0.5)
        if connected:
            assert await only.receive_nothing(timeout=0.2)
            await only.disconnect()
        await mixed.disconnect()

    async_to_sync(scenario)()


def test_another_users_lists_and_pages_show_none_of_alices_things(
    world: dict[str, Any], alice: Any, bob: Any, password: str
) -> None:
    page, api = signed_in(bob, password)
    for path in (
        "/api/models/",
        "/api/backtests/",
        "/api/sweeps/",
        "/api/bots/",
        "/api/market/imports/",
    ):
        response = api.get(path)
        assert response.status_code == 200, path
        assert response.json()["count"] == 0, path  # bob owns nothing
    assets = api.get("/api/market/assets/").json()
    rows = assets["results"] if isinstance(assets, dict) else assets
    assert world["private_symbol"] not in {a["symbol"] for a in rows}
    audit = api.get("/api/audit/").json()
    assert all(
        row.get("actor_email", bob.email) == bob.email for row in audit["results"]
    )
    links = [
        f'href="/models/{world["mlmodels.MLModel"]}/"',
        f'href="/backtests/{world["backtests.Backtest"]}/"',
        f'href="/backtests/sweeps/{world["backtests.Sweep"]}/"',
        f'href="/bots/{world["bots.TradingBot"]}/"',
        f'href="/markets/imports/{world["market.MarketImport"]}/"',
        world["private_symbol"],
    ]
    own = Client()
    own.force_login(alice)
    for path in (
        "/models/",
        "/backtests/",
        "/backtests/sweeps/",
        "/bots/",
        "/markets/",
    ):
        html = page.get(path).content.decode()
        assert not [link for link in links if link in html], path
        # the same page shows them to alice, so the check above can fail
        assert [link for link in links if link in own.get(path).content.decode()], path
