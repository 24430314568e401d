from __future__ import annotations

from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def epoch(value: int | float | None) -> str:
    """Epoch seconds -> 'YYYY-MM-DD HH:MM' (UTC)."""
    if value is None:
        return ""
    return datetime.fromtimestamp(int(value), tz=UTC).strftime("%Y-%m-%d %H:%M")


@register.filter
def share(value: float | None) -> str:
    """A ratio as a plain percentage: 0.05 -> '5', 0.125 -> '12.5'."""
    if value is None:
        return ""
    return f"{value * 100:g}"


@register.filter
def pct(value: float | None, digits: int = 2) -> str:
    """An unsigned proportion: 0.3682 -> '36.82 %'."""
    if value is None:
        return ""
    return f"{value * 100:.{int(digits)}f} %"
