"""A thin CoinGecko client and the live price provider built on it.

Keys go in the headers CoinGecko documents: ``x-cg-demo-api-key`` against
``https://api.coingecko.com/api/v3`` (Demo plan) and ``x-cg-pro-api-key`` against
``https://pro-api.coingecko.com/api/v3`` (paid plans); without a key the public
endpoint is used, rate-limited by IP.

Caching: every successful answer is stored as its JSON text in the cache object given
to the constructor (Django's cache API: get/set/add/incr): quotes 60 s, history 300 s,
search 900 s (CoinGecko itself refreshes search every 15 minutes). Text, not objects,
so any cache backend can hold it.

Rate limit: a fixed one-minute window counted in the same cache (``add`` then
``incr`` on a key per plan and minute), so every process sharing a Redis cache shares
the budget. A fixed window can let through up to twice the limit across a minute
boundary; keep ``calls_per_minute`` a little under the plan's figure. A 429 from
CoinGecko blocks every process until its Retry-After has passed. Over the limit the
client raises :class:`RateLimited` instead of waiting: the caller (feed loop, task)
owns the waiting. With a cache that keeps nothing (Django's DummyCache) the limiter
cannot count and lets calls through.

Prices are read from the JSON text as Decimal, and nothing is ever filled in: a coin
CoinGecko does not return is simply absent from the result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlencode

import httpx

from apps.market.providers.base import (
    BadResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    Tick,
    TickSource,
)

log = logging.getLogger(__name__)

Plan = Literal["public", "demo", "pro"]
BASE_URLS: dict[str, str] = {
    "public": "https://api.coingecko.com/api/v3",
    "demo": "https://api.coingecko.com/api/v3",
    "pro": "https://pro-api.coingecko.com/api/v3",
}
KEY_HEADERS: dict[str, str] = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
QUOTE_TTL, HISTORY_TTL, SEARCH_TTL = 60, 300, 900
DEFAULT_RETRY_AFTER = 60.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")


class Cache(Protocol):
    """The part of Django's cache API used here."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, timeout: float | None = ...) -> None: ...

    def add(self, key: str, value: Any, timeout: float | None = ...) -> bool: ...

    def incr(self, key: str, delta: int = 1) -> int: ...


@dataclass(frozen=True, slots=True)
class Quote:
    coin_id: str
    vs_currency: str
    price: Decimal
    change_24h: Decimal | None  # percent
    last_updated: datetime | None


@dataclass(frozen=True, slots=True)
class PricePoint:
    time: datetime
    value: Decimal


@dataclass(frozen=True, slots=True)
class MarketChart:
    prices: list[PricePoint]
    market_caps: list[PricePoint]
    total_volumes: list[PricePoint]  # quote-currency volume over the past 24 h


@dataclass(frozen=True, slots=True)
class OhlcBar:
    """CoinGecko stamps OHLC candles with their *close* time (see its docs)."""

    close_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    seconds: int  # candle length, fixed by CoinGecko from ``days``

    @property
    def open_time(self) -> datetime:
        return self.close_time - timedelta(seconds=self.seconds)


@dataclass(frozen=True, slots=True)
class CoinMatch:
    id: str
    name: str
    symbol: str
    market_cap_rank: int | None


def ohlc_candle_seconds(days: int | str) -> int:
    """CoinGecko's automatic OHLC granularity: 30 min, 4 h, or 4 days."""
    if days != "max" and int(days) <= 2:
        return 1800
    if days != "max" and int(days) <= 30:
        return 14400
    return 4 * 86400


class RateLimiter:
    """Calls per minute counted in a shared cache, plus a block after a 429."""

    def __init__(
        self,
        cache: Cache,
        *,
        name: str,
        calls_per_minute: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache, self.calls_per_minute, self.clock = cache, calls_per_minute, clock
        self.prefix = f"coingecko:{name}"
        self._blocked_until = 0.0  # also kept locally in case the cache drops it

    def acquire(self) -> None:
        now = self.clock()
        blocked = max(self._blocked_until, float(self.cache.get(self._block_key) or 0))
        if blocked > now:
            raise RateLimited(
                "CoinGecko asked us to wait before calling again",
                retry_after=blocked - now,
            )
        key = f"{self.prefix}:calls:{int(now // 60)}"
        self.cache.add(key, 0, 120)
        try:
            calls = self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, 120)
            calls = 1
        if calls > self.calls_per_minute:
            raise RateLimited(
                f"over the limit of {self.calls_per_minute} CoinGecko calls a minute",
                retry_after=60 - now % 60,
            )

    def block(self, seconds: float) -> None:
        until = self.clock() + seconds
        self._blocked_until = max(self._blocked_until, until)
        self.cache.set(self._block_key, until, math.ceil(seconds) + 1)

    @property
    def _block_key(self) -> str:
        return f"{self.prefix}:blocked_until"


class CoinGeckoClient:
    def __init__(
        self,
        *,
        cache: Cache,
        api_key: str | None = None,
        plan: Plan = "demo",
        base_url: str | None = None,
        calls_per_minute: int = 30,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if plan not in BASE_URLS:
            raise ValueError(f"unknown CoinGecko plan {plan!r}")
        headers = {"accept": "application/json"}
        if api_key and plan in KEY_HEADERS:
            headers[KEY_HEADERS[plan]] = api_key
        self.cache, self.plan, self.timeout = cache, plan, timeout
        self.limiter = RateLimiter(
            cache, name=plan, calls_per_minute=calls_per_minute, clock=clock
        )
        self._http = httpx.Client(
            base_url=base_url or BASE_URLS[plan],
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CoinGeckoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ endpoints

    def simple_price(
        self,
        ids: Sequence[str],
        vs_currencies: Sequence[str] = ("usd",),
        *,
        max_age: float = QUOTE_TTL,
    ) -> list[Quote]:
        """Current prices for every (coin, currency) pair CoinGecko returns, kept
        in the cache for ``max_age`` seconds (at most QUOTE_TTL)."""
        params = {
            "ids": ",".join(sorted(ids)),
            "vs_currencies": ",".join(sorted(vs_currencies)),
            "include_24hr_change": "true",
            "include_last_updated_at": "true",
            "precision": "full",
        }
        return self._get(
            "/simple/price",
            params,
            max(1, math.floor(min(QUOTE_TTL, max_age))),
            lambda data: _quotes(data, list(vs_currencies)),
        )

    def market_chart(
        self, coin_id: str, *, vs_currency: str = "usd", days: int | str = 1
    ) -> MarketChart:
        params = {"vs_currency": vs_currency, "days": str(days)}
        return self._get(f"/coins/{coin_id}/market_chart", params, HISTORY_TTL, _chart)

    def ohlc(
        self, coin_id: str, *, vs_currency: str = "usd", days: int | str = 1
    ) -> list[OhlcBar]:
        params = {"vs_currency": vs_currency, "days": str(days)}
        seconds = ohlc_candle_seconds(days)
        return self._get(
            f"/coins/{coin_id}/ohlc",
            params,
            HISTORY_TTL,
            lambda data: _ohlc(data, seconds),
        )

    def search(self, query: str) -> list[CoinMatch]:
        return self._get("/search", {"query": query}, SEARCH_TTL, _matches)

    # ------------------------------------------------------------ transport

    def _get(
        self,
        path: str,
        params: dict[str, str],
        ttl: int,
        convert: Callable[[Any], T],
    ) -> T:
        key = self._cache_key(path, params)
        cached = self.cache.get(key)
        if cached is not None:
            return convert(_decode(cached))
        self.limiter.acquire()
        response = self._send(path, params)
        result = convert(_decode(response.text))
        # Stored only once it proved readable, so a bad answer is not replayed.
        self.cache.set(key, response.text, ttl)
        return result

    def _send(self, path: str, params: dict[str, str]) -> httpx.Response:
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(
                f"CoinGecko did not answer within {self.timeout:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"cannot reach CoinGecko: {exc}") from exc
        status = response.status_code
        if status == 429:
            wait = _retry_after(response.headers.get("retry-after"), self.limiter.clock)
            self.limiter.block(wait)
            raise RateLimited(
                f"CoinGecko rate limit reached; retry in {wait:g} s",
                retry_after=wait,
                status=status,
            )
        if status >= 500:
            raise ProviderUnavailable(
                f"CoinGecko is unavailable (HTTP {status})", status=status
            )
        if status in (401, 403):
            raise ProviderError(
                f"CoinGecko refused the request (HTTP {status}): check the API key "
                f"and plan. {_error_message(response)}",
                status=status,
            )
        if status >= 400:
            raise ProviderError(
                f"CoinGecko rejected the request (HTTP {status}): "
                f"{_error_message(response)}",
                status=status,
            )
        return response

    def _cache_key(self, path: str, params: dict[str, str]) -> str:
        # Hashed: Django cache keys must stay short and free of odd characters.
        raw = f"{self.plan}{path}?{urlencode(sorted(params.items()))}"
        return "coingecko:resp:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


# ---------------------------------------------------------------- decoding


def _decode(text: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise BadResponse(f"CoinGecko sent malformed JSON: {text[:80]!r}") from exc


def _retry_after(header: str | None, clock: Callable[[], float]) -> float:
    if not header:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:  # the HTTP-date form
        return max(0.0, parsedate_to_datetime(header).timestamp() - clock())
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:120]
    if isinstance(body, dict):
        status = body.get("status")
        if isinstance(status, dict) and "error_message" in status:
            return str(status["error_message"])
        if "error" in body:
            return str(body["error"])
    return str(body)[:120]


def _number(value: Any, what: str) -> Decimal:
    # bool is an int in Python; a true/false price is a broken answer.
    if isinstance(value, Decimal) or (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        return Decimal(value)
    raise BadResponse(f"CoinGecko sent {value!r} where {what} should be a number")


def _ms(value: Any) -> datetime:
    return EPOCH + timedelta(milliseconds=int(_number(value, "a timestamp")))


def _quotes(data: Any, vs_currencies: list[str]) -> list[Quote]:
    if not isinstance(data, dict):
        raise BadResponse("CoinGecko /simple/price did not return an object")
    quotes = []
    for coin_id, fields in sorted(data.items()):
        if not isinstance(fields, dict):
            raise BadResponse(f"CoinGecko /simple/price: {coin_id!r} is not an object")
        updated = fields.get("last_updated_at")
        for vs in vs_currencies:
            if fields.get(vs) is None:
                continue  # CoinGecko has no price for this pair: report none
            change = fields.get(f"{vs}_24h_change")
            quotes.append(
                Quote(
                    coin_id=coin_id,
                    vs_currency=vs,
                    price=_number(fields[vs], f"{coin_id} {vs} price"),
                    change_24h=None if change is None else _number(change, "a change"),
                    last_updated=None
                    if updated is None
                    else _ms(_number(updated, "last_updated_at") * 1000),
                )
            )
    return quotes


def _points(data: Any, name: str) -> list[PricePoint]:
    series = data.get(name) if isinstance(data, dict) else None
    if not isinstance(series, list):
        raise BadResponse(f"CoinGecko market_chart has no {name!r} list")
    points = []
    for item in series:
        if not isinstance(item, list) or len(item) != 2:
            raise BadResponse(f"CoinGecko market_chart: bad {name} point {item!r}")
        points.append(PricePoint(_ms(item[0]), _number(item[1], name)))
    return points


def _chart(data: Any) -> MarketChart:
    return MarketChart(
        prices=_points(data, "prices"),
        market_caps=_points(data, "market_caps"),
        total_volumes=_points(data, "total_volumes"),
    )


def _ohlc(data: Any, seconds: int) -> list[OhlcBar]:
    if not isinstance(data, list):
        raise BadResponse("CoinGecko /ohlc did not return a list")
    bars = []
    for item in data:
        if not isinstance(item, list) or len(item) != 5:
            raise BadResponse(f"CoinGecko /ohlc: bad candle {item!r}")
        o, h, low, c = (_number(v, "a price") for v in item[1:])
        bars.append(OhlcBar(_ms(item[0]), o, h, low, c, seconds))
    return bars


def _matches(data: Any) -> list[CoinMatch]:
    coins = data.get("coins") if isinstance(data, dict) else None
    if not isinstance(coins, list):
        raise BadResponse("CoinGecko /search has no 'coins' list")
    try:
        return [
            CoinMatch(
                id=str(coin["id"]),
                name=str(coin["name"]),
                symbol=str(coin["symbol"]).upper(),
                market_cap_rank=None
                if coin.get("market_cap_rank") is None
                else int(coin["market_cap_rank"]),
            )
            for coin in coins
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadResponse(f"CoinGecko /search: unexpected coin entry ({exc})") from exc


# ---------------------------------------------------------------- live feed


class CoinGeckoProvider:
    """Live ticks by polling /simple/price; a price is emitted once per update.

    ``coins`` maps our symbols to CoinGecko ids and currencies, e.g.
    ``{"BTC-USD": ("bitcoin", "usd")}``. Polling faster than the 60 s quote cache only
    re-reads the cache; an unchanged ``last_updated_at`` yields no tick, so the feed
    never repeats a stale price as a new one.
    """

    source: TickSource = "live"

    def __init__(
        self,
        client: CoinGeckoClient,
        coins: Mapping[str, tuple[str, str]],
        *,
        interval: float = 60.0,
        max_backoff: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client, self.coins, self.interval = client, dict(coins), interval
        self.max_backoff, self.sleep, self.now = max_backoff, sleep, now
        self._last_seen: dict[str, datetime] = {}

    def poll(self) -> list[Tick]:
        ids = sorted({coin for coin, _ in self.coins.values()})
        currencies = sorted({vs for _, vs in self.coins.values()})
        quotes = {
            (q.coin_id, q.vs_currency): q
            # Cached no longer than the poll interval: each poll asks afresh.
            for q in self.client.simple_price(ids, currencies, max_age=self.interval)
        }
        ticks = []
        for symbol, pair in sorted(self.coins.items()):
            quote = quotes.get(pair)
            if quote is None:
                continue
            # Without last_updated_at, the time we fetched it is the honest stamp.
            seen = quote.last_updated or self.now()
            if self._last_seen.get(symbol) == seen:
                continue
            self._last_seen[symbol] = seen
            ticks.append(Tick(symbol, quote.price, seen, "live"))
        return ticks

    def stream(self, *, stop: Callable[[], bool] = lambda: False) -> Iterator[Tick]:
        failures = 0
        while not stop():
            try:
                ticks = self.poll()
            except RateLimited as exc:
                log.warning("coingecko rate limited, waiting %.0f s", exc.retry_after)
                self._wait(exc.retry_after, stop)
                continue
            except (ProviderUnavailable, BadResponse) as exc:
                failures += 1
                wait = min(self.interval * 2 ** (failures - 1), self.max_backoff)
                log.warning("coingecko poll failed (%s), retry in %.0f s", exc, wait)
                self._wait(wait, stop)
                continue
            failures = 0
            yield from ticks
            self._wait(self.interval, stop)

    def _wait(self, seconds: float, stop: Callable[[], bool]) -> None:
        # In slices, so a stop request is noticed within a second.
        remaining = seconds
        while remaining > 0 and not stop():
            self.sleep(min(remaining, 1.0))
            remaining -= 1.0
