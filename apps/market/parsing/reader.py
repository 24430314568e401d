"""Streaming a file in chunks of good rows, and the sorted-columns alternative."""

from __future__ import annotations

import csv
import itertools
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Protocol

import numpy as np

from .layout import _read_head, _sniff, _text_stream
from .report import ParsedRow, ParseReport, RowError
from .rows import _parse_record
from .seen import _SeenTimes
from .values import EPOCH, ONE_US


class _CsvReader(Protocol):
    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...


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


def iter_times(rows: Iterable[ParsedRow]) -> Iterator[datetime]:
    """Open times of rows (handy for resample.find_gaps)."""
    return (row.open_time for row in rows)
