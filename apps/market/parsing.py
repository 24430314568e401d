"""Read the OHLCV files traders actually download, streaming and in bounded memory.

Layouts understood (detected from the first lines, see :func:`detect_layout`):

* ``long``: one bar per row under a header, with any case and the usual aliases
  (``Date``/``Unix Timestamp``/``open_time``..., ``Open``/``o``..., ``Volume BTC``,
  ``VolumeFrom``...). Banner lines above the header (CryptoDataDownload starts with
  its URL) are skipped.
* ``wide``: several assets per row, ``BTC:open,...,ETH:volume`` with the date first;
  you pick one asset. Empty cells for an asset mean it was not trading yet.
* ``headerless``: exchange kline dumps (Binance: open time, open, high, low, close,
  volume, close time, ...) or any file whose rows start time, open, high, low, close.

Volume: base-currency volume is taken over a plain ``volume`` column, which is taken
over quote volume (``VolumeTo``, ``Volume USD``, ``quote_volume``). A file with only
quote volume is read with it and ``Layout.volume_is_quote`` set, so the caller can
warn; a file without volume gives ``volume=None``, never an invented zero.

Times: ISO dates and datetimes (with or without ``T``, ``Z`` or an offset), the
``2019-07-04 01-PM`` style, and Unix epochs in seconds, milliseconds, microseconds or
nanoseconds, told apart by magnitude. A time without an offset is taken as UTC, which
is what exchanges and CryptoDataDownload publish.

Order and memory: rows come out in file order, in chunks (:func:`iter_chunks`); the
store upserts by (symbol, timeframe, open_time), so order does not matter there and we
never hold the file. The only per-row state is the duplicate-time index: sorted int64
runs of (time, line) merged like a binary counter, 12 bytes a row, not Python objects.
:func:`read_arrays` is the sorted alternative: it keeps compact columns (48 bytes a
row, about 100 at the peak while sorting) and sorts them oldest first at the end.

Validation never drops a row silently: a bad row becomes a :class:`RowError` with its
1-based line number in the file, collected in the :class:`ParseReport` the caller
passes in; the caller decides whether to write nothing or skip the bad rows. A file
that cannot be understood at all raises :class:`ParseError`.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Literal, Protocol

import numpy as np

from apps.market.resample import TIMEFRAME_SECONDS

SNIFF_LINES = 50
MAX_ERRORS = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)

# Time columns in order of preference: an epoch beats a text date (no zone doubt),
# and a bar's open time beats a generic timestamp (CoinMarketCap's is the close).
TIME_ALIASES = (
    "unix",
    "unix_timestamp",
    "open_time",
    "opentime",
    "time_open",
    "timeopen",
    "timestamp",
    "timestamp_utc",
    "datetime",
    "datetime_utc",
    "date_time",
    "date",
    "date_utc",
    "time",
    "time_utc",
)
PRICE_ALIASES = {
    name: (name, name[0], f"{name}_price", f"price_{name}")
    for name in ("open", "high", "low", "close")
}
BASE_VOLUME = ("volumefrom", "volume_from", "base_volume", "volume_base")
PLAIN_VOLUME = ("volume", "vol", "v")
QUOTE_VOLUME = (
    "volumeto",
    "volume_to",
    "quote_volume",
    "quote_asset_volume",
    "volume_quote",
)
QUOTE_CURRENCIES = frozenset(
    [
        "usd",
        "usdt",
        "usdc",
        "busd",
        "tusd",
        "dai",
        "eur",
        "gbp",
        "jpy",
        "krw",
        "aud",
        "cad",
        "chf",
        "try",
        "brl",
        "rub",
    ]
)
WIDE_FIELDS = {"open": "open", "high": "high", "low": "low", "close": "close"}
WIDE_FIELDS |= {"volume": "volume", "o": "open", "h": "high", "l": "low", "c": "close"}
WIDE_FIELDS |= {"v": "volume", "vol": "volume"}

_NUMERIC = re.compile(r"\d+(?:\.\d*)?")
_AMPM = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2})(?::(\d{2}))?(?::(\d{2}))?[ -]?([AaPp][Mm])"
)
_WIDE = re.compile(r"([a-z0-9]+):([a-z]+)")


class _CsvReader(Protocol):
    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...


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


# ---------------------------------------------------------------- public API


def detect_layout(fileobj: IO[str] | IO[bytes]) -> Layout:
    """Read the first lines and tell the layout; seeks back to the start if it can."""
    with _text_stream(fileobj) as text:
        layout = _sniff(_read_head(text))
    if fileobj.seekable():
        fileobj.seek(0)
    return layout


def list_assets(fileobj: IO[str] | IO[bytes]) -> tuple[str, ...]:
    """The assets of a wide file, in column order; empty for a one-asset file."""
    return detect_layout(fileobj).assets


def iter_chunks(
    fileobj: IO[str] | IO[bytes],
    *,
    asset: str | None = None,
    chunk_size: int = 5000,
    report: ParseReport | None = None,
) -> Iterator[list[ParsedRow]]:
    """Good rows in file order, ``chunk_size`` at a time; errors go to ``report``.

    ``fileobj`` may be text or binary (decoded as UTF-8, BOM allowed). Raises
    ParseError before the first chunk when the file cannot be understood.
    """
    report = report if report is not None else ParseReport()
    with _text_stream(fileobj) as text:
        head = _read_head(text)
        layout = _sniff(head)
        columns = layout.columns_for(asset)
        report.layout = layout
        report.asset = asset.upper() if asset else None
        reader = csv.reader(itertools.chain(head, text), delimiter=layout.delimiter)
        seen = _SeenTimes()
        pending: list[ParsedRow] = []
        errors: list[RowError] = []
        for record in _records(reader, layout.header_line, report):
            parsed = _parse_record(record, columns, reader.line_num, layout.kind)
            if parsed is None:
                report.not_trading += 1
            elif isinstance(parsed, RowError):
                errors.append(parsed)
            else:
                pending.append(parsed)
            # Errors count toward the chunk too, so a file of bad rows stays bounded.
            if len(pending) + len(errors) >= chunk_size:
                rows = _settle(pending, errors, seen, report)
                pending, errors = [], []
                if rows:
                    yield rows
        if pending or errors:
            rows = _settle(pending, errors, seen, report)
            if rows:
                yield rows


def iter_rows(
    fileobj: IO[str] | IO[bytes],
    *,
    asset: str | None = None,
    report: ParseReport | None = None,
) -> Iterator[ParsedRow]:
    for chunk in iter_chunks(fileobj, asset=asset, report=report):
        yield from chunk


def parse(
    fileobj: IO[str] | IO[bytes], *, asset: str | None = None
) -> tuple[list[ParsedRow], ParseReport]:
    """Every good row as a list, plus the report: for small files and tests only."""
    report = ParseReport()
    return list(iter_rows(fileobj, asset=asset, report=report)), report


@dataclass(frozen=True)
class OhlcvArrays:
    """Float64 columns sorted oldest first; ``time`` is epoch seconds (int64)."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray  # NaN where the file has no volume


def read_arrays(
    fileobj: IO[str] | IO[bytes],
    *,
    asset: str | None = None,
    report: ParseReport | None = None,
) -> OhlcvArrays:
    """The whole file as compact sorted columns (for backtests, benchmarks, charts)."""
    times = array("q")
    columns = [array("d") for _ in range(5)]
    add_time = times.append
    add_open, add_high, add_low, add_close, add_volume = (c.append for c in columns)
    nan, second = float("nan"), timedelta(seconds=1)
    for chunk in iter_chunks(fileobj, asset=asset, report=report):
        for row in chunk:
            add_time((row.open_time - EPOCH) // second)
            add_open(float(row.open))
            add_high(float(row.high))
            add_low(float(row.low))
            add_close(float(row.close))
            add_volume(nan if row.volume is None else float(row.volume))
    order = np.argsort(np.frombuffer(times, dtype=np.int64), kind="stable")
    # Reorder one column at a time and free its buffer, to keep the peak low.
    sorted_columns = [_take(times, np.int64, order)]
    while columns:
        sorted_columns.append(_take(columns.pop(0), np.float64, order))
    return OhlcvArrays(*sorted_columns)


def _take(buffer: array, dtype: type, order: np.ndarray) -> np.ndarray:
    if not buffer:
        return np.empty(0, dtype=dtype)
    return np.frombuffer(buffer, dtype=dtype)[order]


def parse_time(text: str) -> datetime:
    """One time cell as an aware UTC datetime; ValueError when unreadable."""
    value = text.strip()
    if _NUMERIC.fullmatch(value):
        return _from_epoch(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = _from_ampm(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# ---------------------------------------------------------------- reading


@contextmanager
def _text_stream(fileobj: IO[str] | IO[bytes]) -> Iterator[IO[str]]:
    if isinstance(fileobj.read(0), str):
        yield fileobj  # type: ignore[misc]
        return
    wrapper = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
    try:
        yield wrapper
    except UnicodeDecodeError as exc:
        raise ParseError(
            "the file is not UTF-8 text; save it as a CSV file in UTF-8"
        ) from exc
    finally:
        # Detach so closing the wrapper never closes the caller's file.
        wrapper.detach()


def _read_head(text: IO[str]) -> list[str]:
    try:
        head = list(itertools.islice(text, SNIFF_LINES))
    except UnicodeDecodeError as exc:
        raise ParseError(
            "the file is not UTF-8 text; save it as a CSV file in UTF-8"
        ) from exc
    if head:
        head[0] = head[0].lstrip("\ufeff")
    if not "".join(head).strip():
        raise ParseError("the file is empty")
    if any("\x00" in line for line in head):
        raise ParseError(
            "this looks like a binary file (Excel, zip...), not CSV text; "
            "export it as CSV"
        )
    return head


def _records(
    reader: _CsvReader, header_line: int, report: ParseReport
) -> Iterator[list[str]]:
    for record in reader:
        if reader.line_num <= header_line:
            continue
        if not "".join(record).strip():
            report.blank_lines += 1
            continue
        yield record


def _settle(
    rows: list[ParsedRow],
    errors: list[RowError],
    seen: _SeenTimes,
    report: ParseReport,
) -> list[ParsedRow]:
    """Drop rows whose time repeats (as errors), record the rest in the report."""
    keys = [(row.open_time - EPOCH) // ONE_US for row in rows]
    repeats = seen.add(keys, [row.line for row in rows])
    good: list[ParsedRow] = []
    for index, row in enumerate(rows):
        first = repeats.get(index)
        if first is None:
            good.append(row)
        else:
            when = row.open_time.isoformat().replace("+00:00", "Z")
            errors.append(
                RowError(row.line, f"duplicate time {when} (first on line {first})")
            )
    for error in sorted(errors, key=lambda e: e.line):
        report.add_error(error)
    for row in good:
        report.observe(row.open_time)
    return good


class _SeenTimes:
    """Times seen so far, as sorted int64 runs merged like a binary counter.

    O(log n) runs and O(n log n) total work; 12 bytes a row (int64 time, int32
    line), so a million-row file costs about 12 MB here whatever its order, plus
    about as much again for a moment while the largest runs merge.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, keys: list[int], lines: list[int]) -> dict[int, int]:
        """Remember new keys; return {index in batch: line where first seen}."""
        first_index: dict[int, int] = {}  # key -> index of its first row in the batch
        for index, key in enumerate(keys):
            first_index.setdefault(key, index)
        size = len(first_index)
        fresh = np.fromiter(first_index, dtype=np.int64, count=size)
        where = np.fromiter(first_index.values(), dtype=np.int64, count=size)
        known = self._lookup(fresh)
        earlier = {
            int(key): int(line)
            for key, line in zip(fresh[known > 0], known[known > 0], strict=True)
        }
        repeats: dict[int, int] = {}
        for index, key in enumerate(keys):
            if key in earlier:
                repeats[index] = earlier[key]
            elif first_index[key] != index:
                repeats[index] = lines[first_index[key]]
        keep = known == 0
        self._push(fresh[keep], np.asarray(lines, dtype=np.int64)[where[keep]])
        return repeats

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        """Line of first sight for each key, 0 when never seen (lines start at 1)."""
        found = np.zeros(keys.size, dtype=np.int64)
        for run_keys, run_lines in self._runs:
            pos = np.searchsorted(run_keys, keys).clip(max=run_keys.size - 1)
            hit = run_keys[pos] == keys
            found[hit] = run_lines[pos[hit]]
        return found

    def _push(self, keys: np.ndarray, lines: np.ndarray) -> None:
        if keys.size == 0:
            return
        order = np.argsort(keys, kind="stable")
        self._runs.append((keys[order], lines[order].astype(np.int32)))
        while (
            len(self._runs) > 1 and self._runs[-2][0].size <= 2 * self._runs[-1][0].size
        ):
            newer, older = self._runs.pop(), self._runs.pop()
            self._runs.append(_merge(older, newer))


def _merge(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted runs with disjoint keys in O(n), without a full sort.

    Each key of ``b`` lands at its rank in ``a`` plus its own index; ``a`` fills the
    remaining slots. Temporary memory is one index array, not a sort's copies.
    """
    (ka, la), (kb, lb) = a, b
    slots = np.searchsorted(ka, kb) + np.arange(kb.size)
    keys = np.empty(ka.size + kb.size, dtype=np.int64)
    lines = np.empty(keys.size, dtype=np.int32)
    from_a = np.ones(keys.size, dtype=bool)
    from_a[slots] = False
    keys[slots], lines[slots] = kb, lb
    keys[from_a], lines[from_a] = ka, la
    return keys, lines


# ---------------------------------------------------------------- layout


def _sniff(head: list[str]) -> Layout:
    delimiter = _delimiter(head)
    reader = csv.reader(head, delimiter=delimiter)
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        line = reader.line_num
        layout = _wide_layout(record, delimiter, line) or _long_layout(
            record, delimiter, line
        )
        if layout is not None:
            return layout
        if _looks_like_bar(record):
            return _headerless_layout(record, delimiter)
    raise ParseError(
        "no header found: expected columns such as Date, Open, High, Low, Close, "
        f"Volume within the first {SNIFF_LINES} lines"
    )


def _delimiter(head: list[str]) -> str:
    # The candidate splitting the most lines into the same number of cells wins.
    lines = [line for line in head if line.strip()][-10:]

    def score(candidate: str) -> tuple[int, int]:
        counts = [line.count(candidate) for line in lines]
        return (max(counts), -len(set(counts))) if max(counts) else (0, 0)

    return max((",", ";", "\t", "|"), key=score)


def _normalise(cell: str) -> str:
    return re.sub(r"[^0-9a-z:]+", "_", cell.strip().lower()).strip("_")


def _long_layout(record: list[str], delimiter: str, line: int) -> Layout | None:
    names = [_normalise(cell) for cell in record]
    time_index = next(
        (names.index(alias) for alias in TIME_ALIASES if alias in names), None
    )
    prices = {
        field: next((names.index(a) for a in aliases if a in names), None)
        for field, aliases in PRICE_ALIASES.items()
    }
    if time_index is None or None in prices.values():
        return None
    volume_index, is_quote = _volume_column(names)
    columns = ColumnIndex(time_index, volume=volume_index, **prices)  # type: ignore[arg-type]
    return Layout(
        kind="long",
        delimiter=delimiter,
        header_line=line,
        time_column=record[time_index].strip(),
        volume_column=None if volume_index is None else record[volume_index].strip(),
        volume_is_quote=is_quote,
        columns={"": columns},
    )


def _volume_column(names: list[str]) -> tuple[int | None, bool]:
    base = plain = quote = None
    for index, name in enumerate(names):
        suffix = re.fullmatch(r"(?:volume|vol)_([a-z0-9]+)", name)
        if name in BASE_VOLUME or (suffix and suffix[1] not in QUOTE_CURRENCIES):
            base = index if base is None else base
        elif name in PLAIN_VOLUME:
            plain = index if plain is None else plain
        elif name in QUOTE_VOLUME or suffix:
            quote = index if quote is None else quote
    for index in (base, plain):
        if index is not None:
            return index, False
    return quote, quote is not None


def _wide_layout(record: list[str], delimiter: str, line: int) -> Layout | None:
    fields: dict[str, dict[str, int]] = {}
    for index, cell in enumerate(record):
        match = _WIDE.fullmatch(_normalise(cell))
        if match and match[2] in WIDE_FIELDS:
            asset = cell.split(":")[0].strip().upper()
            fields.setdefault(asset, {})[WIDE_FIELDS[match[2]]] = index
    assets = {
        asset: ColumnIndex(
            0, f["open"], f["high"], f["low"], f["close"], f.get("volume")
        )
        for asset, f in fields.items()
        if {"open", "high", "low", "close"} <= f.keys()
    }
    first = _normalise(record[0])
    if not assets or (first and first not in TIME_ALIASES):
        return None
    return Layout(
        kind="wide",
        delimiter=delimiter,
        header_line=line,
        time_column=record[0].strip(),
        volume_column="volume",
        volume_is_quote=False,
        columns=assets,
    )


def _looks_like_bar(record: list[str]) -> bool:
    if len(record) < 5:
        return False
    try:
        parse_time(record[0])
        return all(_decimal(cell) is not None for cell in record[1:5])
    except (ValueError, OverflowError):
        return False


def _headerless_layout(record: list[str], delimiter: str) -> Layout:
    has_volume = len(record) > 5 and _decimal(record[5]) is not None
    return Layout(
        kind="headerless",
        delimiter=delimiter,
        header_line=0,
        time_column="",
        volume_column="column 6" if has_volume else None,
        volume_is_quote=False,
        columns={"": ColumnIndex(0, 1, 2, 3, 4, 5 if has_volume else None)},
    )


# ---------------------------------------------------------------- rows


def _parse_record(
    record: list[str], columns: ColumnIndex, line: int, kind: str
) -> ParsedRow | RowError | None:
    """A row, an error, or None for a wide-file asset that is not trading yet.

    The common case (a good row) takes one try block and a chain of comparisons;
    anything unusual falls through to :func:`_diagnose`, which names every problem.
    """
    try:
        open_text, high_text = record[columns.open], record[columns.high]
        low_text, close_text = record[columns.low], record[columns.close]
        volume_text = None if columns.volume is None else record[columns.volume]
        time_text = record[columns.time]
    except IndexError:
        return RowError(line, f"too few columns ({len(record)})")
    try:
        open_, high = Decimal(open_text), Decimal(high_text)
        low, close = Decimal(low_text), Decimal(close_text)
        volume = None if volume_text is None else Decimal(volume_text)
        moment = parse_time(time_text)
        # NaN or Infinity anywhere makes the sum non-finite.
        finite = (open_ + high + low + close + (volume or 0)).is_finite()
        if (
            finite
            and 0 < low <= open_ <= high
            and low <= close <= high
            and (volume is None or volume >= 0)
        ):
            return ParsedRow(moment, open_, high, low, close, volume, line)
    except (InvalidOperation, ValueError, OverflowError):
        pass
    texts = [open_text, high_text, low_text, close_text]
    if volume_text is not None:
        texts.append(volume_text)
    if kind == "wide" and not any(text.strip() for text in texts):
        return None
    return RowError(line, "; ".join(_diagnose(time_text, texts)))


def _diagnose(time_text: str, texts: list[str]) -> list[str]:
    reasons: list[str] = []
    try:
        parse_time(time_text)
    except (ValueError, OverflowError):
        reasons.append(f"cannot read the time {time_text.strip()!r}")
    numbers = []
    for name, text in zip(
        ("open", "high", "low", "close", "volume"), texts, strict=False
    ):
        number = _decimal(text)
        if number is None and text.strip():
            reasons.append(f"{name} {text.strip()!r} is not a number")
        elif number is None:
            reasons.append(f"{name} is empty")
        numbers.append(number)
    if reasons:
        return reasons
    open_, high, low, close = numbers[:4]
    volume = numbers[4] if len(numbers) > 4 else None
    return _check_bar(open_, high, low, close, volume)  # type: ignore[arg-type]


def _check_bar(
    open_: Decimal, high: Decimal, low: Decimal, close: Decimal, volume: Decimal | None
) -> list[str]:
    reasons = [
        f"{name} {value} is not positive"
        for name, value in (
            ("open", open_),
            ("high", high),
            ("low", low),
            ("close", close),
        )
        if value <= 0
    ]
    for name, value in (("open", open_), ("close", close)):
        if high < value:
            reasons.append(f"high {high} is below {name} {value}")
        if low > value:
            reasons.append(f"low {low} is above {name} {value}")
    if volume is not None and volume < 0:
        reasons.append(f"volume {volume} is negative")
    return reasons


def _decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _from_epoch(value: str) -> datetime:
    number = Decimal(value)
    # Seconds until the year 5138, then ms, us, ns: the ranges never overlap for
    # dates after 1973, which covers every crypto market.
    for limit, per_second in ((10**11, 1), (10**14, 10**3), (10**17, 10**6)):
        if number < limit:
            return EPOCH + timedelta(microseconds=int(number * 10**6 / per_second))
    return EPOCH + timedelta(microseconds=int(number / 1000))


def _from_ampm(value: str) -> datetime:
    match = _AMPM.fullmatch(value)
    if match is None:
        raise ValueError(f"unknown time format: {value!r}")
    day, hour, minute, second, half = match.groups()
    hour_12 = int(hour)
    if not 1 <= hour_12 <= 12:
        raise ValueError(f"hour {hour_12} is not a 12-hour clock hour")
    hour_24 = hour_12 % 12 + (12 if half.lower() == "pm" else 0)
    return datetime.fromisoformat(day).replace(
        hour=hour_24, minute=int(minute or 0), second=int(second or 0), tzinfo=UTC
    )


def iter_times(rows: Iterable[ParsedRow]) -> Iterator[datetime]:
    """Open times of rows (handy for resample.find_gaps)."""
    return (row.open_time for row in rows)
