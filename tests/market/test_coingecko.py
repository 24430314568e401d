from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from apps.market.providers.base import (
    BadResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from apps.market.providers.coingecko import (
    CoinGeckoClient,
    CoinGeckoProvider,
    ohlc_candle_seconds,
)
from tests.market.fake_coingecko import FakeCoinGecko, Reply


class MemoryCache:
    """Django's cache API over a dict, with expiry on a controllable clock."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.data: dict[str, tuple[Any, float | None]] = {}

    def _live(self, key: str) -> bool:
        item = self.data.get(key)
        if item is None:
            return False
        if item[1] is not None and item[1] <= self.clock():
            del self.data[key]
            return False
        return True

    def get(self, key: str, default: Any = None) -> Any:
        return self.data[key][0] if self._live(key) else default

    def set(self, key: str, value: Any, timeout: float | None = 300) -> None:
        self.data[key] = (value, None if timeout is None else self.clock() + timeout)

    def add(self, key: str, value: Any, timeout: float | None = 300) -> bool:
        if self._live(key):
            return False
        self.set(key, value, timeout)
        return True

    def incr(self, key: str, delta: int = 1) -> int:
        if not self._live(key):
            raise ValueError(f"Key {key!r} not found")
        value, expiry = self.data[key]
        self.data[key] = (value + delta, expiry)
        return value + delta


class Clock:
    def __init__(self, now: float = 1_699_999_990.0) -> None:  # 10 s into a minute
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeCoinGecko]:
    server = FakeCoinGecko().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> MemoryCache:
    return MemoryCache(clock)


def make_client(
    fake: FakeCoinGecko, cache: MemoryCache, clock: Clock, **kw: Any
) -> CoinGeckoClient:
    options: dict[str, Any] = {"api_key": "demo-key-123", "timeout": 2.0}
    options.update(kw)
    return CoinGeckoClient(cache=cache, base_url=fake.base_url, clock=clock, **options)


def test_simple_price_reads_exact_decimals_and_sends_demo_key(fake, cache, clock):
    client = make_client(fake, cache, clock)
    quotes = client.simple_price(["ethereum", "bitcoin"], ["usd"])
    btc = next(q for q in quotes if q.coin_id == "bitcoin")
    # Decimal straight from the JSON text, not via float.
    assert btc.price == Decimal("67187.3358936566")
    assert btc.change_24h == Decimal("3.6378845")
    assert btc.last_updated == datetime(2024, 3, 25, 8, 45, tzinfo=UTC)
    seen = fake.requests[0]
    assert seen.path == "/api/v3/simple/price"
    assert seen.headers["x-cg-demo-api-key"] == "demo-key-123"
    assert "x-cg-pro-api-key" not in seen.headers
    assert seen.query["ids"] == ["bitcoin,ethereum"]
    assert seen.query["vs_currencies"] == ["usd"]


def test_pro_plan_sends_pro_header(fake, cache, clock):
    client = make_client(fake, cache, clock, plan="pro", api_key="pro-key")
    client.search("bit")
    assert fake.requests[0].headers["x-cg-pro-api-key"] == "pro-key"
    assert "x-cg-demo-api-key" not in fake.requests[0].headers


def test_default_base_urls_follow_the_plan():
    cache = MemoryCache(Clock())
    assert str(CoinGeckoClient(cache=cache, plan="demo")._http.base_url) == (
        "https://api.coingecko.com/api/v3/"
    )
    assert str(CoinGeckoClient(cache=cache, plan="pro")._http.base_url) == (
        "https://pro-api.coingecko.com/api/v3/"
    )


def test_missing_coin_is_absent_not_invented(fake, cache, clock):
    fake.reply("/simple/price", Reply(body=json.dumps({"bitcoin": {"usd": 1.5}})))
    quotes = make_client(fake, cache, clock).simple_price(["bitcoin", "nosuchcoin"])
    assert [(q.coin_id, q.price, q.last_updated) for q in quotes] == [
        ("bitcoin", Decimal("1.5"), None)
    ]


def test_cache_hit_avoids_second_http_call_until_ttl(fake, cache, clock):
    client = make_client(fake, cache, clock)
    first = client.simple_price(["bitcoin"])
    second = client.simple_price(["bitcoin"])
    assert first == second
    assert len(fake.requests) == 1
    clock.now += 61  # quotes live 60 s
    client.simple_price(["bitcoin"])
    assert len(fake.requests) == 2


def test_history_is_cached_for_five_minutes(fake, cache, clock):
    client = make_client(fake, cache, clock)
    client.market_chart("bitcoin", days=1)
    clock.now += 299
    client.market_chart("bitcoin", days=1)
    assert len(fake.requests) == 1
    clock.now += 2
    client.market_chart("bitcoin", days=1)
    assert len(fake.requests) == 2


def test_market_chart_shape(fake, cache, clock):
    chart = make_client(fake, cache, clock).market_chart("bitcoin", days=1)
    assert chart.prices[0].time == datetime(2024, 3, 31, tzinfo=UTC)
    assert chart.prices[1].value == Decimal("71246.9514406015")
    assert chart.total_volumes[0].value == Decimal("16408802301.8374")
    assert len(chart.market_caps) == 2
    assert fake.requests[0].query == {"vs_currency": ["usd"], "days": ["1"]}


def test_ohlc_times_are_close_times(fake, cache, clock):
    bars = make_client(fake, cache, clock).ohlc("bitcoin", days=7)
    assert bars[0].close_time == datetime(2024, 3, 2, 16, tzinfo=UTC)
    assert bars[0].open_time == datetime(2024, 3, 2, 12, tzinfo=UTC)  # 4 h candles
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close) == (
        61942,
        62211,
        61721,
        61845,
    )
    assert isinstance(bars[0].open, Decimal)


def test_ohlc_granularity_follows_coingecko_rules():
    assert [ohlc_candle_seconds(d) for d in (1, 2, 3, 30, 31, "max")] == [
        1800,
        1800,
        14400,
        14400,
        345600,
        345600,
    ]


def test_search_returns_coins(fake, cache, clock):
    matches = make_client(fake, cache, clock).search("bitcoin")
    assert [(m.id, m.symbol, m.market_cap_rank) for m in matches] == [
        ("bitcoin", "BTC", 1),
        ("wrapped-bitcoin", "WBTC", None),
    ]
    assert fake.requests[0].query == {"query": ["bitcoin"]}


def test_429_raises_with_retry_after_and_blocks_further_calls(fake, cache, clock):
    fake.reply(
        "/simple/price",
        Reply(
            429,
            '{"status":{"error_code":429,"error_message":"Throttled"}}',
            {"Retry-After": "30"},
        ),
    )
    client = make_client(fake, cache, clock)
    with pytest.raises(RateLimited) as caught:
        client.simple_price(["bitcoin"])
    assert caught.value.retry_after == 30
    clock.now += 10
    with pytest.raises(RateLimited) as again:
        client.search("bit")  # refused locally, never sent
    assert again.value.retry_after == pytest.approx(20)
    assert len(fake.requests) == 1
    clock.now += 21
    client.search("bit")
    assert len(fake.requests) == 2


def test_block_after_429_is_shared_through_the_cache(fake, cache, clock):
    fake.reply("/search", Reply(429, "{}", {"Retry-After": "15"}))
    with pytest.raises(RateLimited):
        make_client(fake, cache, clock).search("x")
    other_process = make_client(fake, cache, clock)
    with pytest.raises(RateLimited):
        other_process.search("y")
    assert len(fake.requests) == 1


def test_429_without_retry_after_waits_a_minute(fake, cache, clock):
    fake.reply("/search", Reply(429, "{}"))
    with pytest.raises(RateLimited) as caught:
        make_client(fake, cache, clock).search("x")
    assert caught.value.retry_after == 60


def test_client_side_limit_per_minute(fake, cache, clock):
    client = make_client(fake, cache, clock, calls_per_minute=3)
    for query in ("a", "b", "c"):
        client.search(query)
    with pytest.raises(RateLimited) as caught:
        client.search("d")
    assert caught.value.retry_after == pytest.approx(50)  # clock is 10 s into a minute
    assert len(fake.requests) == 3
    client.search("a")  # a cache hit costs no call
    clock.now += 50
    client.search("d")
    assert len(fake.requests) == 4


def test_5xx_is_unavailable(fake, cache, clock):
    fake.reply("/search", Reply(503, "<html>down</html>"))
    with pytest.raises(ProviderUnavailable) as caught:
        make_client(fake, cache, clock).search("x")
    assert caught.value.status == 503


def test_timeout_is_unavailable(fake, cache, clock):
    fake.reply("/search", Reply(body=json.dumps({"coins": []}), delay=1.0))
    client = make_client(fake, cache, clock, timeout=0.2)
    with pytest.raises(ProviderUnavailable, match="did not answer within 0.2 s"):
        client.search("x")


def test_connection_refused_is_unavailable(cache, clock):
    client = CoinGeckoClient(
        cache=cache, base_url="http://127.0.0.1:9/api/v3", clock=clock
    )
    with pytest.raises(ProviderUnavailable, match="cannot reach"):
        client.search("x")


def test_malformed_json_is_bad_response_and_not_cached(fake, cache, clock):
    fake.reply(
        "/simple/price",
        Reply(body='{"bitcoin": {"usd": 12'),
        Reply(body=json.dumps({"bitcoin": {"usd": 2}})),
    )
    client = make_client(fake, cache, clock)
    with pytest.raises(BadResponse, match="malformed JSON"):
        client.simple_price(["bitcoin"])
    assert client.simple_price(["bitcoin"])[0].price == 2
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    "body",
    [
        '{"bitcoin": {"usd": "12.5"}}',
        '{"bitcoin": {"usd": true}}',
        '["bitcoin"]',
    ],
)
def test_wrong_shape_is_bad_response(fake, cache, clock, body):
    fake.reply("/simple/price", Reply(body=body))
    with pytest.raises(BadResponse):
        make_client(fake, cache, clock).simple_price(["bitcoin"])


def test_unknown_coin_and_bad_key_are_provider_errors(fake, cache, clock):
    client = make_client(fake, cache, clock)
    with pytest.raises(ProviderError, match="coin not found") as caught:
        client.ohlc("nosuchcoin")
    assert caught.value.status == 404
    fake.reply(
        "/search",
        Reply(401, '{"status":{"error_code":10002,"error_message":"API Key Missing"}}'),
    )
    with pytest.raises(ProviderError, match="API Key Missing"):
        client.search("x")


def test_provider_emits_each_update_once(fake, cache, clock):
    client = make_client(fake, cache, clock)
    provider = CoinGeckoProvider(
        client, {"BTC-USD": ("bitcoin", "usd"), "ETH-USD": ("ethereum", "usd")}
    )
    ticks = provider.poll()
    assert [(t.symbol, t.price, t.source) for t in ticks] == [
        ("BTC-USD", Decimal("67187.3358936566"), "live"),
        ("ETH-USD", Decimal("3486.51"), "live"),
    ]
    assert ticks[0].time == datetime(2024, 3, 25, 8, 45, tzinfo=UTC)
    clock.now += 61
    assert provider.poll() == []  # same last_updated_at: nothing new to report


def test_provider_stream_waits_out_rate_limits(fake, cache, clock):
    fake.reply(
        "/simple/price",
        Reply(429, "{}", {"Retry-After": "3"}),
        Reply(body=json.dumps({"bitcoin": {"usd": 5, "last_updated_at": 1711356300}})),
    )
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    provider = CoinGeckoProvider(
        make_client(fake, cache, clock), {"BTC-USD": ("bitcoin", "usd")}, sleep=sleep
    )
    tick = next(provider.stream())
    assert tick.price == 5
    assert sum(slept) == 3
