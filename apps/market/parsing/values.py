"""One cell's value: times (ISO, 12-hour clock, Unix epochs) and decimals."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


ONE_US = timedelta(microseconds=1)


_NUMERIC = re.compile(r"\d+(?:\.\d*)?")


_AMPM = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2})(?::(\d{2}))?(?::(\d{2}))?[ -]?([AaPp][Mm])"
)


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
