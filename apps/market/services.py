"""Every write to market data: assets, the candle upsert, file imports, resampling."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.audit.services import record_event

from . import parsing
from .models import TIMEFRAMES, Asset, Candle, MarketImport, timeframe_delta

SYMBOL_PATTERN = re.compile(r"^([A-Z0-9]{1,15})-([A-Z0-9]{1,15})$")
UPSERT_CHUNK = 5000
KEPT_ERRORS = 200
OHLCV = ("open", "high", "low", "close", "volume")
KNOWN_COINGECKO_IDS = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "SOL": "solana",
    "LTC": "litecoin",
    "XRP": "ripple",
    "ADA": "cardano",
    "DOGE": "dogecoin",
    "DOT": "polkadot",
}


class MarketDataError(ValueError):
    """Bad market input, with a message for the user."""


@dataclass(frozen=True)
class Bar:
    open_time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float | None


@dataclass
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertResult) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


def parse_symbol(symbol: str) -> tuple[str, str, str]:
    cleaned = (symbol or "").strip().upper()
    match = SYMBOL_PATTERN.match(cleaned)
    if not match:
        raise MarketDataError(
            f"symbol {symbol!r} is not BASE-QUOTE (letters and digits, e.g. BTC-USD)"
        )
    return cleaned, match.group(1), match.group(2)


def check_timeframe(timeframe: str) -> str:
    if timeframe not in TIMEFRAMES:
        raise MarketDataError(
            f"timeframe {timeframe!r} is not one of {', '.join(TIMEFRAMES)}"
        )
    return timeframe


def get_or_create_asset(*, symbol: str, owner: Any = None) -> Asset:
    cleaned, base, quote = parse_symbol(symbol)
    lookup = Asset.objects.filter(symbol=cleaned)
    lookup = lookup.filter(owner=owner) if owner else lookup.filter(owner__isnull=True)
    asset = lookup.first()
    if asset is None:
        asset = Asset.objects.create(
            symbol=cleaned,
            base=base,
            quote=quote,
            owner=owner,
            coingecko_id=KNOWN_COINGECKO_IDS.get(base, "") if owner is None else "",
        )
    return asset


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return all(x == y for x, y in zip(a, b, strict=True))


def upsert_candles(
    *, asset: Asset, timeframe: str, bars: Sequence[Bar]
) -> UpsertResult:
    """Insert new bars, update changed ones, leave identical ones alone.

    Idempotent: writing the same bars twice changes nothing the second time (and says
    so: every bar counts as unchanged).
    """
    check_timeframe(timeframe)
    result = UpsertResult()
    for start in range(0, len(bars), UPSERT_CHUNK):
        result.add(_upsert_chunk(asset, timeframe, bars[start : start + UPSERT_CHUNK]))
    return result


def _insert_bars(asset: Asset, timeframe: str, bars: Sequence[Bar]) -> None:
    """One executemany for new bars: the ORM's bulk_create spent two thirds of an
    import building model instances and per-field SQL (benchmarks/bench_import.py).
    The table's CHECK and UNIQUE constraints still guard every row."""
    if not bars:
        return
    table = connection.ops.quote_name(Candle._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        f"INSERT INTO {table} (asset_id, timeframe, open_time, open, high, low, "  # noqa: S608 - names from the model, values bound  # nosec B608
        "close, volume) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    )
    with connection.cursor() as cur:
        cur.executemany(
            sql,
            [
                (
                    asset.pk,
                    timeframe,
                    adapt(b.open_time),
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume,
                )
                for b in bars
            ],
        )


def _upsert_chunk(asset: Asset, timeframe: str, bars: Sequence[Bar]) -> UpsertResult:
    result = UpsertResult()
    if not bars:
        return result
    times = [b.open_time for b in bars]
    # A range read, not IN (...): it uses the unique index and has no parameter limit.
    existing = {
        row[0]: row
        for row in Candle.objects.filter(
            asset=asset,
            timeframe=timeframe,
            open_time__gte=min(times),
            open_time__lte=max(times),
        ).values_list("open_time", "id", *OHLCV)
    }
    new: list[Bar] = []
    changed: list[Candle] = []
    for bar in bars:
        found = existing.get(bar.open_time)
        if found is None:
            new.append(bar)
        elif _same(found[2:], (bar.open, bar.high, bar.low, bar.close, bar.volume)):
            result.unchanged += 1
        else:
            changed.append(
                Candle(
                    pk=found[1],
                    open=bar.open,
                    high=bar.high,
                    low=bar.low,
                    close=bar.close,
                    volume=bar.volume,
                )
            )
    with transaction.atomic():
        _insert_bars(asset, timeframe, new)
        Candle.objects.bulk_update(changed, list(OHLCV), batch_size=500)
    result.inserted, result.updated = len(new), len(changed)
    return result


def _bars(rows: Iterable[parsing.ParsedRow]) -> list[Bar]:
    return [
        Bar(
            r.open_time,
            float(r.open),
            float(r.high),
            float(r.low),
            float(r.close),
            None if r.volume is None else float(r.volume),
        )
        for r in rows
    ]


class _AbortImport(Exception):
    """Rolls back an import that found bad rows and may not skip them."""


def import_candles(
    *,
    fileobj: IO[bytes] | IO[str],
    symbol: str,
    timeframe: str,
    actor: Any = None,
    asset_owner: Any = None,
    filename: str = "",
    wide_asset: str | None = None,
    skip_bad_rows: bool = False,
    request: HttpRequest | None = None,
) -> MarketImport:
    """Read an OHLCV file and upsert it in one transaction, in bounded memory.

    A file with bad rows writes nothing (the report lists them by line) unless
    ``skip_bad_rows``; then the good rows are written and the bad ones counted as
    skipped. ``owner`` None writes shared market data; a user writes their own
    private asset. Returns the stored report, whatever the outcome.
    """
    cleaned, base, _ = parse_symbol(symbol)
    check_timeframe(timeframe)
    record = MarketImport.objects.create(
        owner=actor,
        symbol=cleaned,
        timeframe=timeframe,
        filename=filename[:255],
        skip_bad_rows=skip_bad_rows,
    )
    report = parsing.ParseReport(max_errors=KEPT_ERRORS)
    totals = UpsertResult()
    try:
        layout = parsing.detect_layout(fileobj)
        asset_in_file = wide_asset or (base if layout.kind == "wide" else None)
        with transaction.atomic():
            asset = get_or_create_asset(symbol=cleaned, owner=asset_owner)
            for chunk in parsing.iter_chunks(
                fileobj, asset=asset_in_file, report=report, chunk_size=UPSERT_CHUNK
            ):
                if report.error_count and not skip_bad_rows:
                    continue  # keep reading to report every bad row; write nothing
                totals.add(
                    upsert_candles(asset=asset, timeframe=timeframe, bars=_bars(chunk))
                )
            if report.error_count and not skip_bad_rows:
                raise _AbortImport
            if report.rows == 0:
                raise parsing.ParseError("the file has no bars to import")
            _finish(record, report, totals, asset=asset, layout=layout.kind)
            record_event(
                action="market.imported",
                user=actor,
                request=request,
                resource=record,
                details=_summary(record),
            )
    except _AbortImport:
        _fail(
            record,
            report,
            "The file has bad rows, so nothing was written. Fix them, "
            "or import again with 'skip bad rows' to write only the good ones.",
        )
    except parsing.ParseError as exc:
        _fail(record, report, str(exc))
    return record


def _summary(record: MarketImport) -> dict[str, Any]:
    return {
        "symbol": record.symbol,
        "timeframe": record.timeframe,
        "shared": record.asset is not None and record.asset.owner_id is None,
        "filename": record.filename,
        "inserted": record.inserted,
        "updated": record.updated,
        "unchanged": record.unchanged,
        "skipped": record.skipped,
    }


def _finish(
    record: MarketImport,
    report: parsing.ParseReport,
    totals: UpsertResult,
    *,
    asset: Asset,
    layout: str,
) -> None:
    record.asset = asset
    record.layout = layout
    record.status = MarketImport.Status.SUCCEEDED
    record.rows_read = report.rows + report.error_count
    record.inserted, record.updated = totals.inserted, totals.updated
    record.unchanged = totals.unchanged
    record.skipped = report.error_count
    record.error_count = report.error_count
    record.errors = [{"line": e.line, "reason": e.reason} for e in report.errors]
    record.first_time, record.last_time = report.min_time, report.max_time
    warnings = [w for w in [report.timeframe_warning(record.timeframe)] if w]
    if report.layout is not None and report.layout.volume_is_quote:
        warnings.append("the file has volume in the quote currency only, stored as is")
    record.message = "".join(f"Warning: {w}. " for w in warnings).strip()
    record.finished_at = timezone.now()
    record.save()


def _fail(record: MarketImport, report: parsing.ParseReport, message: str) -> None:
    record.status = MarketImport.Status.FAILED
    record.rows_read = report.rows + report.error_count
    record.error_count = report.error_count
    record.errors = [{"line": e.line, "reason": e.reason} for e in report.errors]
    record.message = message
    record.finished_at = timezone.now()
    record.save()


def load_arrays(
    asset: Asset,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    """A stored series as float64 columns oldest first; ``time`` in epoch seconds.
    Volume is NaN where the source had none."""
    import numpy as np

    rows = list(
        Candle.objects.series(asset, timeframe, start, end).values_list(
            "open_time", *OHLCV
        )
    )
    if not rows:
        empty = np.empty(0)
        return {"time": np.empty(0, np.int64), **dict.fromkeys(OHLCV, empty)}
    times, o, h, lo, c, v = zip(*rows, strict=True)
    return {
        "time": np.array([int(t.timestamp()) for t in times], dtype=np.int64),
        "open": np.array(o, dtype=float),
        "high": np.array(h, dtype=float),
        "low": np.array(lo, dtype=float),
        "close": np.array(c, dtype=float),
        "volume": np.array([np.nan if x is None else x for x in v], dtype=float),
    }


def resample_candles(
    *,
    asset: Asset,
    source: str,
    target: str,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> UpsertResult:
    """Build ``target`` bars from stored ``source`` bars on UTC boundaries and store
    the complete ones (a bucket missing a source bar is not a bar)."""
    import math

    from .resample import resample_arrays

    check_timeframe(source)
    check_timeframe(target)
    if (
        TIMEFRAMES[target] <= TIMEFRAMES[source]
        or TIMEFRAMES[target] % TIMEFRAMES[source]
    ):
        raise MarketDataError(f"cannot resample {source} bars to {target}")
    data = load_arrays(asset, source)
    if data["time"].size == 0:
        raise MarketDataError(f"{asset.symbol} has no {source} bars to resample")
    out = resample_arrays(
        data["time"],
        data["open"],
        data["high"],
        data["low"],
        data["close"],
        data["volume"],
        source,
        target,
    )
    bars = [
        Bar(
            datetime.fromtimestamp(int(t), tz=UTC),
            float(o),
            float(h),
            float(lo),
            float(c),
            None if math.isnan(v) else float(v),
        )
        for t, o, h, lo, c, v, ok in zip(
            out.time,
            out.open,
            out.high,
            out.low,
            out.close,
            out.volume,
            out.complete,
            strict=True,
        )
        if ok
    ]
    with transaction.atomic():
        result = upsert_candles(asset=asset, timeframe=target, bars=bars)
        record_event(
            action="market.resampled",
            user=actor,
            request=request,
            resource=asset,
            details={
                "symbol": asset.symbol,
                "source": source,
                "target": target,
                "inserted": result.inserted,
                "updated": result.updated,
            },
        )
    return result


def gap_report(
    *,
    asset: Asset,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Any]:
    """Missing bars of a stored series in [start, end) (default: its own span)."""
    from .resample import find_gaps

    check_timeframe(timeframe)
    series = Candle.objects.series(asset, timeframe, start, end)
    times = series.values_list("open_time", flat=True)
    if start is None or end is None:
        first = series.values_list("open_time", flat=True).first()
        last = series.order_by("-open_time").values_list("open_time", flat=True).first()
        if first is None:
            return []
        start = start or first
        end = end or last + timeframe_delta(timeframe)
    return find_gaps(times.iterator(chunk_size=10000), timeframe, start, end)
