"""Reading a file's first lines and telling its layout (long, wide, headerless)."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from .report import ColumnIndex, Layout, ParseError
from .values import _decimal, parse_time

SNIFF_LINES = 50


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


_WIDE = re.compile(r"([a-z0-9]+):([a-z]+)")


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
