"""What the dashboard counts. Each app adds its own section as it lands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Section:
    title: str
    count: int | None
    empty_text: str
    url_name: str
    detail: str = ""


def dashboard_sections(user: Any) -> list[Section]:
    """Real counts of what the user owns; None where a feature has not shipped."""
    return [
        Section(
            "Markets",
            None,
            "Market data arrives with the market data release.",
            "market:index",
        ),
        Section(
            "Models",
            user.ml_models.count(),
            "No forecasting models yet.",
            "mlmodels:index",
            "forecasting models",
        ),
        Section(
            "Backtests",
            user.backtests.count(),
            "No backtests yet.",
            "backtests:index",
            "stored with their results",
        ),
        Section(
            "Bots",
            user.bots.count(),
            "No paper-trading bots yet.",
            "bots:index",
            "paper-trading bots",
        ),
    ]
