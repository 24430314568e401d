"""Price sources for the feed: CoinGecko (live) and stored candles (replay)."""

from apps.market.providers.base import (
    BadResponse,
    Provider,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    Tick,
    TickSource,
)

__all__ = [
    "BadResponse",
    "Provider",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "Tick",
    "TickSource",
]
