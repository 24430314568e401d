"""What a parse produces: rows, row errors, the layout and the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from apps.market.resample import TIMEFRAME_SECONDS

MAX_ERRORS = 1000


class ParseError(ValueError):
    """The file cannot be understood at all; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class ParsedRow:
    open_time: datetime  # aware UTC
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None  # None when the file has no volume column
    line: int  # 1-based line in the file


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ColumnIndex:
    """Positions of the fields in a row (0-based)."""

    time: int
    open: int
    high: int
    low: int
    close: int
    volume: int | None


@dataclass(frozen=True)
class Layout:
    kind: Literal["long", "wide", "headerless"]
    delimiter: str
    header_line: int  # 1-based line of the header; 0 when there is none
    time_column: str  # as written in the file ("" for headerless or blank)
    volume_column: str | None
    volume_is_quote: bool
    columns: dict[str, ColumnIndex]  # by asset for wide files, else {"": ...}

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.columns) if self.kind == "wide" else ()

    def columns_for(self, asset: str | None) -> ColumnIndex:
        if self.kind != "wide":
            return self.columns[""]
        if asset is None:
            if len(self.columns) == 1:
                return next(iter(self.columns.values()))
            names = ", ".join(self.columns)
            raise ParseError(f"this file holds several assets ({names}); choose one")
        found = self.columns.get(asset.upper())
        if found is None:
            names = ", ".join(self.columns)
            raise ParseError(f"asset {asset!r} is not in this file (it has {names})")
        return found


@dataclass
class ParseReport:
    """What a parse saw: counts, errors (first ``max_errors`` kept), order, spacing."""

    max_errors: int = MAX_ERRORS
    layout: Layout | None = None
    asset: str | None = None
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    blank_lines: int = 0
    not_trading: int = 0  # wide files: rows where the asset has no data yet
    first_time: datetime | None = None  # file order
    last_time: datetime | None = None
    min_time: datetime | None = None
    max_time: datetime | None = None
    ascending_steps: int = 0
    descending_steps: int = 0
    spacing: Counter[int] = field(default_factory=Counter)  # seconds -> times seen

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def order(self) -> Literal["ascending", "descending", "unordered", "single"]:
        if self.ascending_steps and self.descending_steps:
            return "unordered"
        if self.descending_steps:
            return "descending"
        return "ascending" if self.ascending_steps else "single"

    @property
    def spacing_seconds(self) -> int | None:
        return self.spacing.most_common(1)[0][0] if self.spacing else None

    @property
    def inferred_timeframe(self) -> str | None:
        """The timeframe whose length is the most common spacing, if any is."""
        seconds = self.spacing_seconds
        for name, length in TIMEFRAME_SECONDS.items():
            if length == seconds:
                return name
        return None

    def timeframe_warning(self, expected: str) -> str | None:
        inferred = self.inferred_timeframe
        if self.spacing_seconds is None or inferred == expected:
            return None
        found = inferred or f"{self.spacing_seconds} s"
        return f"you chose {expected} but the rows are spaced {found} apart"

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(error)

    def observe(self, moment: datetime) -> None:
        previous = self.last_time
        if previous is None:
            self.first_time = self.min_time = self.max_time = moment
        else:
            step = int((moment - previous).total_seconds())
            if step > 0:
                self.ascending_steps += 1
            else:
                self.descending_steps += 1
            # Bounded: irregular files stop adding new spacings after 64 kinds.
            if abs(step) in self.spacing or len(self.spacing) < 64:
                self.spacing[abs(step)] += 1
            self.min_time = min(self.min_time or moment, moment)
            self.max_time = max(self.max_time or moment, moment)
        self.last_time = moment
        self.rows += 1
