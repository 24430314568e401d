"""A local stand-in for the CoinGecko API: real response shapes, scripted failures.

Runs ``http.server`` in a thread on 127.0.0.1 with an OS-chosen port. Tests script a
route with :meth:`FakeCoinGecko.reply` and read what arrived in ``requests``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Shapes as CoinGecko documents them (values are real-looking, fixed, not random).
SIMPLE_PRICE = {
    "bitcoin": {
        "usd": 67187.3358936566,
        "usd_24h_change": 3.6378845,
        "last_updated_at": 1711356300,
    },
    "ethereum": {
        "usd": 3486.51,
        "usd_24h_change": -0.4123,
        "last_updated_at": 1711356290,
    },
}
MARKET_CHART = {
    "prices": [[1711843200000, 69702.3087473573], [1711929600000, 71246.9514406015]],
    "market_caps": [
        [1711843200000, 1370247487960.09],
        [1711929600000, 1401370211582.37],
    ],
    "total_volumes": [
        [1711843200000, 16408802301.8374],
        [1711929600000, 19723005998.215],
    ],
}
OHLC = [
    [1709395200000, 61942, 62211, 61721, 61845],
    [1709409600000, 61828, 62139, 61726, 62139],
]
SEARCH = {
    "coins": [
        {
            "id": "bitcoin",
            "name": "Bitcoin",
            "api_symbol": "bitcoin",
            "symbol": "BTC",
            "market_cap_rank": 1,
            "thumb": "https://assets.coingecko.com/coins/images/1/thumb/bitcoin.png",
            "large": "https://assets.coingecko.com/coins/images/1/large/bitcoin.png",
        },
        {
            "id": "wrapped-bitcoin",
            "name": "Wrapped Bitcoin",
            "api_symbol": "wrapped-bitcoin",
            "symbol": "WBTC",
            "market_cap_rank": None,
            "thumb": "",
            "large": "",
        },
    ],
    "exchanges": [],
    "icos": [],
    "categories": [],
    "nfts": [],
}


@dataclass
class Reply:
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FakeCoinGecko:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self.default("/api/v3/simple/price", SIMPLE_PRICE)
        self.default("/api/v3/coins/bitcoin/market_chart", MARKET_CHART)
        self.default("/api/v3/coins/bitcoin/ohlc", OHLC)
        self.default("/api/v3/search", SEARCH)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/v3"

    def default(self, path: str, payload: Any) -> None:
        self.routes[path] = [Reply(body=json.dumps(payload))]

    def reply(self, path: str, *replies: Reply) -> None:
        """Answer ``path`` with these replies in turn; the last one then repeats."""
        self.routes["/api/v3" + path] = list(replies)

    def start(self) -> FakeCoinGecko:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, path: str) -> Reply:
        queue = self.routes.get(path)
        if not queue:
            return Reply(404, json.dumps({"error": "coin not found"}))
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlsplit(self.path)
                fake.requests.append(
                    Seen(
                        url.path,
                        parse_qs(url.query),
                        {k.lower(): v for k, v in self.headers.items()},
                    )
                )
                reply = fake._next(url.path)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler
