"""The bot form: market, strategy, costs, sizing and risk rules.

Strategy parameters arrive as ``param_<name>`` fields rendered by
static/js/bot_form.js from the strategies' declarations; the server validates them
with ``Strategy.validate``. Risk rules are entered in percent, stored as ratios.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from apps.backtests.strategies import STRATEGIES, StrategyParamError, get_strategy
from apps.market.models import TIMEFRAMES, Asset

from .models import TradingBot

PERCENT_FIELDS = ("stop_loss", "take_profit", "max_daily_loss", "max_drawdown")


def _pct(label: str, required: bool = False, **kw: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal("0.01"),
        max_value=Decimal(100),
        decimal_places=4,
        **kw,
    )


class BotForm(forms.Form):
    name = forms.CharField(max_length=100)
    symbol = forms.ChoiceField(help_text="Shared assets only: the feed prices those.")
    timeframe = forms.ChoiceField(choices=[(t, t) for t in TIMEFRAMES], initial="1h")
    strategy = forms.ChoiceField(
        choices=[(s.name, s.label) for s in STRATEGIES.values() if not s.inputs],
        initial="sma_cross",
    )
    mode = forms.ChoiceField(
        choices=TradingBot.Mode.choices,
        initial="paper",
        help_text="Live trading is refused until an exchange broker exists.",
    )
    starting_cash = forms.DecimalField(
        min_value=Decimal(1), max_digits=18, decimal_places=2, initial=10_000
    )
    fee_bps = forms.DecimalField(
        label="Fee (bps)",
        min_value=0,
        max_value=1000,
        required=False,
        help_text="Empty: the system default.",
    )
    slippage_bps = forms.DecimalField(
        label="Slippage (bps)",
        min_value=0,
        max_value=1000,
        required=False,
        help_text="Empty: the system default.",
    )
    fraction = _pct("Entry size (% of equity)", required=True, initial=100)
    max_position = _pct("Maximum position (% of equity)", required=True, initial=100)
    stop_loss = _pct(
        "Stop loss (%)", help_text="Below the entry price; pauses the bot."
    )
    take_profit = forms.DecimalField(
        label="Take profit (%)",
        required=False,
        min_value=Decimal("0.01"),
        max_value=Decimal(10_000),
        decimal_places=4,
        help_text="Above the entry price; pauses the bot.",
    )
    max_daily_loss = _pct("Maximum daily loss (%)")
    max_drawdown = _pct("Maximum drawdown (%)")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        symbols = (
            Asset.objects.shared().order_by("symbol").values_list("symbol", flat=True)
        )
        self.fields["symbol"].choices = [(s, s) for s in symbols]
        self.params: dict[str, Any] = {}
        self.raw_params: dict[str, Any] = {}  # as posted, to redisplay after errors

    def clean_mode(self) -> str:
        mode = self.cleaned_data["mode"]
        if mode != TradingBot.Mode.PAPER:
            raise forms.ValidationError(
                "Live trading is not available: no exchange broker is connected yet."
            )
        return mode

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        name = data.get("strategy")
        if name:
            given = {
                k.removeprefix("param_"): _coerce(v)
                for k, v in self.data.items()
                if k.startswith("param_") and v != ""
            }
            self.raw_params = given
            try:
                self.params = get_strategy(name).validate(given)
            except StrategyParamError as exc:
                self.add_error(None, f"Strategy parameter {exc}")
        return data

    def config(self) -> dict[str, Any]:
        d = self.cleaned_data
        out: dict[str, Any] = {}
        for key in ("fee_bps", "slippage_bps"):
            if d.get(key) is not None:
                out[key] = d[key]
        for key in ("fraction", "max_position", *PERCENT_FIELDS):
            out[key] = None if d.get(key) is None else d[key] / 100
        return out


def _coerce(value: Any) -> Any:
    """Form text to the JSON types Strategy.validate expects."""
    if value in ("true", "on"):
        return True
    if value in ("false", "off"):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() and "." not in str(value) else number
