"""The known system settings: each key with its type, default and validation.

A key that is not here cannot be stored. Values are kept as JSON in the ``Setting``
table and read through ``get_setting`` (cached in the shared cache).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class SettingValueError(ValueError):
    """A value that does not fit its key's type or range."""


@dataclass(frozen=True)
class SettingSpec:
    key: str
    type: type
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = field(default_factory=tuple)
    validator: Callable[[Any], None] | None = None

    def parse(self, raw: Any) -> Any:
        """Coerce ``raw`` (from a form, JSON or the DB) and validate it."""
        value = self._coerce(raw)
        if self.minimum is not None and value < self.minimum:
            raise SettingValueError(f"{self.key} must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise SettingValueError(f"{self.key} must be at most {self.maximum}")
        if self.choices and value not in self.choices:
            raise SettingValueError(
                f"{self.key} must be one of: {', '.join(self.choices)}"
            )
        if self.validator:
            self.validator(value)
        return value

    def _coerce(self, raw: Any) -> Any:
        if self.type is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"true", "1", "yes", "on"}:
                return True
            if text in {"false", "0", "no", "off"}:
                return False
            raise SettingValueError(f"{self.key} must be true or false")
        if self.type in (int, float):
            if isinstance(raw, bool):
                raise SettingValueError(f"{self.key} must be a number")
            try:
                number = float(str(raw).strip())
            except ValueError as exc:
                raise SettingValueError(f"{self.key} must be a number") from exc
            if number != number or number in (float("inf"), float("-inf")):
                raise SettingValueError(f"{self.key} must be a finite number")
            if self.type is int:
                if not number.is_integer():
                    raise SettingValueError(f"{self.key} must be a whole number")
                return int(number)
            return number
        text = str(raw).strip()
        if len(text) > 500:
            raise SettingValueError(f"{self.key} must be at most 500 characters")
        return text


SETTINGS: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in [
        SettingSpec(
            "default_fee_bps",
            float,
            10.0,
            "Fee per side charged in backtests and paper trading, in basis "
            "points (10 = 0.1 %).",
            minimum=0,
            maximum=1000,
        ),
        SettingSpec(
            "default_slippage_bps",
            float,
            5.0,
            "Slippage per side, in basis points, moving fills against the trader.",
            minimum=0,
            maximum=1000,
        ),
        SettingSpec(
            "max_bots_per_user",
            int,
            10,
            "How many paper-trading bots one user may own.",
            minimum=0,
            maximum=1000,
        ),
        SettingSpec(
            "max_models_per_user",
            int,
            50,
            "How many forecasting models one user may own.",
            minimum=0,
            maximum=10000,
        ),
        SettingSpec(
            "market_data_provider",
            str,
            "replay",
            "Where the live feed gets prices: replay (stored candles replayed "
            "as a live market) or coingecko.",
            choices=("replay", "coingecko"),
        ),
        SettingSpec(
            "feed_interval_seconds",
            float,
            1.0,
            "Replay: wall seconds per replayed market hour (1 = an hourly bar a "
            "second). CoinGecko: seconds between polls (at least "
            "COINGECKO_MIN_POLL_SECONDS, 10 by default).",
            minimum=0.05,
            maximum=3600,
        ),
        SettingSpec(
            "emergency_stop",
            bool,
            False,
            "Halt every trading bot at once; no bot places an order while on.",
        ),
        SettingSpec(
            "demo_enabled",
            bool,
            True,
            "Create the demo trader's models and bot on first start.",
        ),
    ]
}


def spec_for(key: str) -> SettingSpec:
    try:
        return SETTINGS[key]
    except KeyError as exc:
        raise SettingValueError(f"unknown setting {key!r}") from exc
