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

The package: :mod:`.values` (one cell), :mod:`.report` (the result types),
:mod:`.layout` (sniffing), :mod:`.rows` (one record), :mod:`.seen` (the duplicate
index) and :mod:`.reader` (streaming); everything is imported from here.
"""

from __future__ import annotations

from .layout import (
    BASE_VOLUME,
    PLAIN_VOLUME,
    PRICE_ALIASES,
    QUOTE_CURRENCIES,
    QUOTE_VOLUME,
    SNIFF_LINES,
    TIME_ALIASES,
    WIDE_FIELDS,
    detect_layout,
    list_assets,
)
from .reader import OhlcvArrays, iter_chunks, iter_rows, iter_times, parse, read_arrays
from .report import (
    MAX_ERRORS,
    ColumnIndex,
    Layout,
    ParsedRow,
    ParseError,
    ParseReport,
    RowError,
)
from .seen import _SeenTimes
from .values import EPOCH, ONE_US, parse_time

__all__ = [
    "BASE_VOLUME",
    "EPOCH",
    "MAX_ERRORS",
    "ONE_US",
    "PLAIN_VOLUME",
    "PRICE_ALIASES",
    "QUOTE_CURRENCIES",
    "QUOTE_VOLUME",
    "SNIFF_LINES",
    "TIME_ALIASES",
    "WIDE_FIELDS",
    "ColumnIndex",
    "Layout",
    "OhlcvArrays",
    "ParseError",
    "ParseReport",
    "ParsedRow",
    "RowError",
    "_SeenTimes",
    "detect_layout",
    "iter_chunks",
    "iter_rows",
    "iter_times",
    "list_assets",
    "parse",
    "parse_time",
    "read_arrays",
]
