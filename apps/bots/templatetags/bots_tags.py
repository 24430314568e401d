from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

register = template.Library()


@register.filter
def pct(value: Any) -> str:
    """A stored ratio as a percent: 0.055 -> 5.5."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value) * 100:f}".rstrip("0").rstrip(".")
