"""The market data provider fails, through real processes: ``run_feed`` polling
the real CoinGecko client against a local HTTP server on 127.0.0.1 that answers
like CoinGecko, then 500s, then hangs past the client's timeout, then answers an
old price, then recovers; daphne serving health, the price API, the markets page
and the bots API; a paper bot of the test's user trading BTC-USD.

What must hold: the price turns stale (health, API, page) FEED_STALE_SECONDS
after the last fresh price, the running bot is told why it waits, no order fills
on a stale price (not even the one the provider sent late), and when the
provider answers again the feed picks it up by itself and the waiting order fills
at the fresh price.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    EMAIL,
    PASSWORD,
    BrowserSession,
    PrivateRedis,
    base_env,
    http,
    set_settings,
    start_feed,
    start_web,
    stop_process,
    wait_for,
)

pytestmark = pytest.mark.integration

STALE_SECONDS = 6
FRESH, LATE, RECOVERED = "67187.3358936566", "12345.0", "68000.25"


class CoinGeckoServer:
    """/simple/price as CoinGecko answers it, in one of four modes: ``ok``
    (``price``, last updated now), ``error`` (HTTP 500), ``hang`` (no answer for
    longer than the client's 10 s timeout) and ``old`` (a price last updated ten
    minutes ago, as CoinGecko serves a coin it stopped updating)."""

    def __init__(self) -> None:
        self.mode, self.price, self.calls = "ok", FRESH, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.calls += 1
                mode, price = server.mode, server.price
                if mode == "hang":
                    time.sleep(12)
                if mode == "error":
                    self._send(500, {"error": "Internal Server Error"})
                    return
                updated = int(time.time()) - (600 if mode == "old" else 0)
                value = LATE if mode == "old" else price
                # The price as a JSON number with every digit, as CoinGecko sends it.
                self._send(
                    200,
                    f'{{"bitcoin": {{"usd": {value}, "last_updated_at": {updated}}}}}',
                )

            def _send(self, status: int, body: Any) -> None:
                raw = (body if isinstance(body, str) else json.dumps(body)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v3"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _price(base: str, token: str) -> dict[str, Any]:
    return http("GET", f"{base}/api/market/assets/BTC-USD/price/", token=token)[1]


def _feed(base: str) -> dict[str, Any]:
    return http("GET", f"{base}/api/health")[1]["checks"]["feed"]


def test_provider_outage_marks_prices_stale_holds_bots_and_recovers(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    coingecko = CoinGeckoServer()
    env = base_env(tmp_path, private_redis.url, db_file)
    env |= {
        "COINGECKO_BASE_URL": coingecko.url,
        "COINGECKO_MIN_POLL_SECONDS": "1",
        "COINGECKO_CALLS_PER_MINUTE": "1000",
        "FEED_STALE_SECONDS": str(STALE_SECONDS),
    }
    set_settings(env, market_data_provider="coingecko", feed_interval_seconds=1.0)
    feed_log = tmp_path / "feed.log"
    try:
        _, base = start_web(env, tmp_path / "web.log", spawned=spawned)
        feed = start_feed(env, feed_log, spawned=spawned)
        code, body, _ = http(
            "POST", f"{base}/api/auth/token/", {"email": EMAIL, "password": PASSWORD}
        )
        assert code == 200, body
        token = body["access"]
        browser = BrowserSession(base, EMAIL, PASSWORD)

        # 1. CoinGecko answers: a live, fresh price; the bot trades on it.
        wait_for(lambda: _price(base, token).get("price") == float(FRESH), 30, "price")
        assert _price(base, token)["source"] == "live"
        wait_for(lambda: _feed(base)["status"] == "ok", 30, "a fresh feed")
        code, bot, _ = http(
            "POST",
            f"{base}/api/bots/",
            {
                "name": "outage",
                "symbol": "BTC-USD",
                "strategy": "sma_cross",
                "params": {"fast": 5, "slow": 20},
                "timeframe": "1h",
                "starting_cash": "100000",
            },
            token,
        )
        assert code == 201, bot
        api = f"{base}/api/bots/{bot['id']}"
        assert http("POST", f"{api}/start/", {}, token)[0] == 200

        def order(side: str) -> None:
            code, body, _ = http(
                "POST", f"{api}/orders/", {"side": side, "quantity": "0.01"}, token
            )
            assert code == 201, body

        def fills() -> list[dict[str, Any]]:
            return http("GET", f"{api}/fills/", token=token)[1]["results"]

        def journal() -> list[str]:
            rows = http("GET", f"{api}/journal/", token=token)[1]["results"]
            return [r["message"] for r in rows]

        order("buy")
        wait_for(lambda: len(fills()) == 1, 30, "the buy to fill")
        assert Decimal(fills()[0]["market_price"]) == Decimal(FRESH)

        # 2. CoinGecko fails (HTTP 500, then no answer within the timeout).
        coingecko.mode = "error"
        failed_at = time.monotonic()
        feed_now = wait_for(
            lambda: (f := _feed(base))["status"] == "stale" and f, 30, "a stale feed"
        )
        became_stale = time.monotonic() - failed_at
        assert feed_now["stale_symbols"] == ["BTC-USD"]
        assert http("GET", f"{base}/api/health")[1]["status"] == "degraded"
        quote = _price(base, token)
        assert quote["stale"] is True and quote["price"] == float(FRESH), quote
        assert quote["age_seconds"] > STALE_SECONDS
        page = browser.opener.open(f"{base}/markets/", timeout=20).read().decode()
        assert "stale since" in page
        wait_for(
            lambda: any(m.startswith("Price stale: BTC-USD") for m in journal()),
            15,
            "the bot to be told",
        )
        order("sell")  # accepted, and waits for a fresh price
        coingecko.mode = "hang"
        wait_for(
            lambda: b"did not answer within" in feed_log.read_bytes(), 40, "a timeout"
        )

        # 3. CoinGecko answers with a price it last updated ten minutes ago: the
        # feed shows it (stale, with its time) and the bot does not trade on it.
        coingecko.mode = "old"
        wait_for(lambda: _price(base, token)["price"] == float(LATE), 90, "the old one")
        assert _price(base, token)["stale"] is True
        time.sleep(2)
        assert len(fills()) == 1
        code, orders, _ = http("GET", f"{api}/orders/", token=token)
        assert [o["status"] for o in orders["results"] if o["side"] == "sell"] == [
            "new"
        ]

        # 4. CoinGecko is back: the feed recovers by itself, the order fills at
        # the fresh price, the bot says so and keeps running.
        coingecko.mode, coingecko.price = "ok", RECOVERED
        back_at = time.monotonic()
        wait_for(lambda: len(fills()) == 2, 60, "the sell to fill")
        recovered_in = time.monotonic() - back_at
        wait_for(lambda: _feed(base)["status"] == "ok", 15, "a fresh feed again")
        quote = _price(base, token)
        assert quote["stale"] is False and quote["price"] == float(RECOVERED)
        sell = fills()[0]  # newest first
        assert sell["side"] == "sell"
        assert Decimal(sell["market_price"]) == Decimal(RECOVERED)
        assert Decimal(LATE) not in {Decimal(f["market_price"]) for f in fills()}
        assert any(m.startswith("Price fresh again: BTC-USD") for m in journal())
        assert http("GET", api, token=token)[1]["status"] == "running"
        assert feed.poll() is None  # the same feed process throughout
        text = feed_log.read_text()
        assert "CoinGecko is unavailable (HTTP 500)" in text
        assert "Traceback" not in text, text[-3000:]
        print(
            f"stale {became_stale:.1f} s after CoinGecko failed (limit "
            f"{STALE_SECONDS} s); trading again {recovered_in:.1f} s after it came "
            f"back; {coingecko.calls} calls to CoinGecko"
        )
    finally:
        for process in reversed(spawned):
            stop_process(process)
        coingecko.stop()
