"""One record to a row or an error that names every problem of the row."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .report import ColumnIndex, ParsedRow, RowError
from .values import _decimal, parse_time


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
