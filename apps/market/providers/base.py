"""What every price source hands the feed: ticks, and errors it can act on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

TickSource = Literal["live", "replay"]
SOURCES: frozenset[str] = frozenset({"live", "replay"})


@dataclass(frozen=True, slots=True)
class Tick:
    """One observed price.

    ``time`` is when the price was observed (for CoinGecko its ``last_updated_at``;
    for a replay the wall clock of the pacing loop, or the simulated moment inside
    the bar when the pure generator is used alone). ``bar_time`` and ``tick_index``
    are set for replays only: the replayed bar's open time and the tick's position
    in it, which together are the cursor a restarted feed resumes from.
    """

    symbol: str
    price: Decimal
    time: datetime
    source: TickSource
    bar_time: datetime | None = None
    tick_index: int | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown tick source {self.source!r}")
        if not isinstance(self.price, Decimal) or not self.price > 0:
            raise ValueError(f"price must be a positive Decimal, got {self.price!r}")
        for moment in (self.time, self.bar_time):
            if moment is not None and moment.utcoffset() != timedelta(0):
                raise ValueError(f"{moment!r} is not an aware UTC datetime")
        if (self.source == "replay") != (self.bar_time is not None):
            raise ValueError("bar_time is set for replay ticks and only for them")


class ProviderError(Exception):
    """A price source failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(ProviderError):
    """Too many calls: nothing may be sent for ``retry_after`` seconds."""

    def __init__(
        self, message: str, *, retry_after: float, status: int | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """The source is down or unreachable (5xx, timeout, connection error)."""


class BadResponse(ProviderError):
    """The source answered something we cannot read (malformed JSON, wrong shape)."""


class Provider(Protocol):
    """A blocking stream of ticks, as ``run_feed`` consumes it.

    ``stop`` is polled between ticks so the command can end cleanly on a signal.
    """

    source: TickSource

    def stream(self, *, stop: Callable[[], bool]) -> Iterator[Tick]: ...
