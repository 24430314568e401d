"""Responses are gzipped when the client accepts it (Django's GZipMiddleware, with
its BREACH padding), the CSV export and streaming bodies still arrive whole, ASGI
included; static files are served precompressed by WhiteNoise; WebSockets are
untouched."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.test import AsyncClient, Client, RequestFactory

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


def test_gzip_sits_below_whitenoise_and_above_the_body_writers() -> None:
    order = django_settings.MIDDLEWARE
    gz = order.index("django.middleware.gzip.GZipMiddleware")
    assert order.index("whitenoise.middleware.WhiteNoiseMiddleware") < gz
    for later in [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "csp.middleware.CSPMiddleware",
        "django_htmx.middleware.HtmxMiddleware",
    ]:
        assert gz < order.index(later), later


@pytest.mark.django_db
def test_pages_and_api_responses_are_gzipped_when_accepted(
    client: Client, alice: Any
) -> None:
    client.force_login(alice)
    plain = client.get("/")
    packed = client.get("/", **GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain and "Accept-Encoding" in plain["Vary"]
    assert packed["Content-Encoding"] == "gzip"
    assert int(packed["Content-Length"]) == len(packed.content)
    html = gzip.decompress(packed.content).decode()
    assert "<html" in html and len(packed.content) < len(html.encode()) / 2
    api = client.get("/api/strategies/", **GZIP)
    assert api["Content-Encoding"] == "gzip"
    assert (
        gzip.decompress(api.content).startswith(b"[")
        or b"{" in api.content[:0]
        or (gzip.decompress(api.content)[:1] in (b"[", b"{"))
    )


@pytest.mark.django_db
def test_each_compressed_response_differs_against_breach(
    client: Client, alice: Any
) -> None:
    """Django pads the gzip header with 0-100 random bytes (since 4.2), so the
    compressed length no longer tells an attacker how well a guess compressed."""
    client.force_login(alice)
    bodies = [client.get("/api/strategies/", **GZIP).content for _ in range(6)]
    assert len({gzip.decompress(b) for b in bodies}) == 1
    assert len({len(b) for b in bodies}) > 1


def test_short_responses_are_left_alone(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = "t0ken"
    response = client.get("/metrics", **GZIP)  # 403, a few bytes
    assert response.status_code == 403 and "Content-Encoding" not in response


@pytest.mark.django_db
def test_the_csv_export_arrives_whole(client: Client, alice: Any) -> None:
    from apps.backtests import services, tasks
    from apps.backtests.services import JobRequest
    from tests.backtests.conftest import make_asset, wave

    make_asset("BTC-USD", wave(600))
    backtest = services.create_backtest(
        owner=alice,
        req=JobRequest(
            symbol="BTC-USD",
            timeframe="1h",
            strategy="sma_cross",
            params={"fast": 3, "slow": 8},
        ),
        enqueue=False,
    )
    assert tasks.run_backtest_task(backtest.pk) == "succeeded"
    backtest.refresh_from_db()
    client.force_login(alice)
    url = f"/backtests/{backtest.pk}/trades.csv"
    plain = client.get(url)
    packed = client.get(url, **GZIP)
    assert packed["Content-Encoding"] == "gzip"
    assert packed["Content-Disposition"] == plain["Content-Disposition"]
    assert gzip.decompress(packed.content) == plain.content
    rows = list(csv.DictReader(io.StringIO(plain.content.decode())))
    assert len(rows) == len(backtest.trades) > 5


def _streaming_view(request: Any) -> StreamingHttpResponse:
    return StreamingHttpResponse(f"row {i}\n" * 20 for i in range(50))


def test_streaming_bodies_are_compressed_as_a_stream() -> None:
    from django.middleware.gzip import GZipMiddleware

    request = RequestFactory().get("/stream", **GZIP)
    response = GZipMiddleware(_streaming_view)(request)
    assert response.streaming and response["Content-Encoding"] == "gzip"
    assert "Content-Length" not in response
    body = b"".join(response.streaming_content)
    expected = "".join(f"row {i}\n" * 20 for i in range(50)).encode()
    assert gzip.decompress(body) == expected


def test_async_streaming_bodies_survive_under_asgi() -> None:
    """Under daphne a streaming body is an async iterator; each chunk becomes a gzip
    member, and the members decompress to the whole."""
    from django.middleware.gzip import GZipMiddleware

    async def chunks() -> Any:
        for i in range(30):
            yield f"chunk {i};".encode() * 30

    async def view(request: Any) -> StreamingHttpResponse:
        return StreamingHttpResponse(chunks())

    async def run() -> bytes:
        request = RequestFactory().get("/stream", **GZIP)
        response = await GZipMiddleware(view)(request)
        assert response.is_async and response["Content-Encoding"] == "gzip"
        return b"".join([part async for part in response.streaming_content])

    body = async_to_sync(run)()
    expected = b"".join(f"chunk {i};".encode() * 30 for i in range(30))
    assert gzip.decompress(body) == expected


def session_cookie(user: Any) -> str:
    """A logged-in session made directly: logging in through Django would write an
    audit row, which a transactional test's flush may not delete (append-only)."""
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(django_settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{django_settings.SESSION_COOKIE_NAME}={store.session_key}"


@pytest.mark.django_db(transaction=True)
def test_pages_through_the_asgi_handler_are_gzipped(alice: Any) -> None:
    cookie = session_cookie(alice)

    client = AsyncClient()
    name, key = cookie.split("=", 1)
    client.cookies[name] = key

    async def fetch() -> Any:
        return await client.get("/", headers={"accept-encoding": "gzip"})

    response = async_to_sync(fetch)()
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert b"<html" in gzip.decompress(response.content)


@pytest.mark.django_db(transaction=True)
def test_websockets_through_the_full_application_are_untouched(alice: Any) -> None:
    from channels.layers import get_channel_layer
    from channels.testing import WebsocketCommunicator

    from aaiti.asgi import application
    from apps.market.live import group_name
    from apps.market.models import Asset

    Asset.objects.create(symbol="BTC-USD", base="BTC", quote="USD")
    cookie = session_cookie(alice).encode()

    async def scenario() -> str:
        comm = WebsocketCommunicator(
            application,
            "/ws/prices/?symbols=BTC-USD",
            headers=[
                (b"cookie", cookie),
                (b"origin", b"http://localhost"),
                (b"host", b"localhost"),
                (b"accept-encoding", b"gzip"),
            ],
        )
        connected, _ = await comm.connect()
        assert connected
        await get_channel_layer().group_send(
            group_name("BTC-USD"),
            {"type": "price.update", "html": "<b>7</b>", "seq": 1},
        )
        text = await comm.receive_from(timeout=3)
        await comm.disconnect()
        return text

    assert async_to_sync(scenario)() == "<b>7</b>"  # a text frame, not gzip bytes


def test_static_files_are_served_precompressed(tmp_path: Path, settings: Any) -> None:
    """Production's storage writes a .gz beside each text file at collectstatic, and
    WhiteNoise sends it to clients that accept gzip (brotli too, when the brotli
    package is installed)."""
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        },
    }
    # The big vendored bundles (plotly, the API docs) are left out: same code path.
    call_command(
        "collectstatic",
        "--noinput",
        "-v0",
        "-i",
        "plotly*",
        "-i",
        "drf_spectacular_sidecar",
        "-i",
        "rest_framework",
    )
    css = sorted(p for p in tmp_path.rglob("*.css") if ".gz" not in p.suffixes)
    assert css and all(Path(f"{p}.gz").exists() for p in css)
    # A hashed copy of the project's own script, as {% static %} names it.
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    url = (
        "/static/"
        + manifest[
            "js/" + sorted(name[3:] for name in manifest if name.startswith("js/"))[0]
        ]
    )
    client = Client()
    plain = client.get(url)
    packed = client.get(url, **GZIP)
    body = b"".join(plain.streaming_content)
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(b"".join(packed.streaming_content)) == body
    assert "max-age" in packed["Cache-Control"]
