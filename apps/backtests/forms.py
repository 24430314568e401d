"""Backtest and sweep forms. Every strategy's parameters are fields of one form,
tagged ``data-strategy`` so static/js/backtest_form.js shows only the chosen
strategy's; without JavaScript all are shown, labelled by strategy, and only the
chosen one's are read. The server checks them with ``Strategy.validate``."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.market.models import TIMEFRAMES, Asset

from .forecast_inputs import DEFAULT_REFIT_EVERY, REFIT_MODES
from .services import (
    BacktestRequestError,
    JobRequest,
    backtest_strategies,
    runnable_strategies,
)
from .strategies import Param, StrategyParamError
from .sweep import RANK_METRICS

DATETIME_HELP = "UTC, e.g. 2019-01-01 00:00. Blank: from the first stored bar."


def _symbols(user: Any) -> list[tuple[str, str]]:
    symbols = Asset.objects.visible_to(user).values_list("symbol", flat=True)
    return [(s, s) for s in sorted(set(symbols))]


def _param_field(strategy: str, label: str, param: Param) -> forms.Field:
    attrs = {"data-strategy": strategy, "data-param": param.name}
    text = f"{label}: {param.name.replace('_', ' ')}"
    hint = f"{param.help} (default {param.default})" if param.help else ""
    if param.type is bool:
        return forms.BooleanField(
            required=False,
            label=text,
            initial=param.default,
            help_text=param.help,
            widget=forms.CheckboxInput(attrs=attrs),
        )
    kind = forms.IntegerField if param.type is int else forms.FloatField
    return kind(
        required=False,
        label=text,
        min_value=param.min,
        max_value=param.max,
        help_text=hint,
        widget=forms.NumberInput(
            attrs={
                **attrs,
                "placeholder": param.default,
                "step": "1" if param.type is int else "any",
            }
        ),
    )


class JobForm(forms.Form):
    """Fields a backtest and a sweep share."""

    symbol = forms.ChoiceField()
    timeframe = forms.ChoiceField(choices=[(t, t) for t in TIMEFRAMES], initial="1h")
    strategy = forms.ChoiceField(
        initial="sma_cross", widget=forms.Select(attrs={"data-strategy-select": "1"})
    )
    start = forms.DateTimeField(required=False, help_text=DATETIME_HELP)
    end = forms.DateTimeField(
        required=False, help_text="Exclusive. Blank: through the last stored bar."
    )
    initial_capital = forms.FloatField(min_value=1, initial=10_000)
    fee_bps = forms.FloatField(
        required=False, min_value=0, max_value=1000, label="Fee per side (bps)"
    )
    slippage_bps = forms.FloatField(
        required=False, min_value=0, max_value=1000, label="Slippage per side (bps)"
    )
    fraction = forms.FloatField(
        min_value=0.01,
        max_value=100,
        initial=100,
        label="Position size (% of equity)",
    )

    def __init__(
        self, *args: Any, user: Any = None, defaults: dict[str, float], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["symbol"].choices = _symbols(user)
        self.fields["strategy"].choices = [
            (s.name, s.label) for s in runnable_strategies().values()
        ]
        self.fields["fee_bps"].widget.attrs["placeholder"] = defaults["fee_bps"]
        self.fields["slippage_bps"].widget.attrs["placeholder"] = defaults[
            "slippage_bps"
        ]
        self.fields[
            "fee_bps"
        ].help_text = f"Blank: the system default, {defaults['fee_bps']:g} bps."
        self.fields[
            "slippage_bps"
        ].help_text = f"Blank: the system default, {defaults['slippage_bps']:g} bps."

    def job_request(self, params: dict[str, Any]) -> JobRequest:
        data = self.cleaned_data
        return JobRequest(
            symbol=data["symbol"],
            timeframe=data["timeframe"],
            strategy=data["strategy"],
            params=params,
            start=data.get("start"),
            end=data.get("end"),
            initial_capital=data["initial_capital"],
            fee_bps=data.get("fee_bps"),
            slippage_bps=data.get("slippage_bps"),
            fraction=data["fraction"] / 100.0,
        )

    def add_service_errors(self, exc: BacktestRequestError, prefix: str) -> None:
        """Put each of the service's field messages on the matching form field."""
        for name, messages in exc.fields.items():
            target: str | None = name
            if name.startswith("params."):
                target = f"{prefix}_{self.cleaned_data['strategy']}_{name[7:]}"
            if target not in self.fields:
                target = None
            for message in messages:
                self.add_error(target, message)


MODEL_STRATEGY = "model_forecast"
MODEL_FIELD_ATTRS = {"data-strategy": MODEL_STRATEGY}
REFIT_LABELS = {
    "walk_forward": "Walk-forward: refit every N bars on the bars before",
    "frozen": "Frozen: the trained artefact (trained before the start)",
}


class ModelSelect(forms.Select):
    """Options carry their model's symbol and timeframe, so backtest_form.js can
    offer only the models of the chosen series."""

    def __init__(self, *args: Any, series: dict[str, tuple[str, str]], **kw: Any):
        super().__init__(*args, **kw)
        self.series = series

    def create_option(self, name: str, value: Any, *args: Any, **kw: Any) -> Any:
        option = super().create_option(name, value, *args, **kw)
        symbol, timeframe = self.series.get(str(value), ("", ""))
        if symbol:
            option["attrs"].update({"data-symbol": symbol, "data-timeframe": timeframe})
        return option


def _model_field(user: Any) -> forms.Field:
    from apps.mlmodels.models import MLModel

    models = list(MLModel.objects.owned_by(user).trained()) if user else []
    choices = [("", "---------")] + [
        (str(m.pk), f"{m.name} ({m.algorithm}, {m.symbol} {m.timeframe})")
        for m in models
    ]
    series = {str(m.pk): (m.symbol, m.timeframe) for m in models}
    return forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=choices,
        label="Model forecast: model",
        help_text="One of your trained models of the chosen symbol and timeframe.",
        widget=ModelSelect(
            attrs={**MODEL_FIELD_ATTRS, "data-model-select": "1"}, series=series
        ),
    )


class BacktestForm(JobForm):
    stop_loss = forms.FloatField(
        required=False, min_value=0.01, max_value=99.99, label="Stop loss (%)"
    )
    take_profit = forms.FloatField(
        required=False, min_value=0.01, label="Take profit (%)"
    )
    trailing_stop = forms.FloatField(
        required=False, min_value=0.01, max_value=99.99, label="Trailing stop (%)"
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["strategy"].choices = [
            (s.name, s.label) for s in backtest_strategies().values()
        ]
        for name, strategy in backtest_strategies().items():
            for param in strategy.params:
                self.fields[f"p_{name}_{param.name}"] = _param_field(
                    name, strategy.label, param
                )
        self.fields["model"] = _model_field(user)
        self.fields["refit"] = forms.ChoiceField(
            required=False,
            choices=[(m, REFIT_LABELS[m]) for m in REFIT_MODES],
            initial="walk_forward",
            label="Model forecast: refitting",
            widget=forms.Select(attrs=MODEL_FIELD_ATTRS),
        )
        self.fields["refit_every"] = forms.IntegerField(
            required=False,
            min_value=1,
            label="Model forecast: refit every (bars)",
            help_text=f"Walk-forward only. Blank: {DEFAULT_REFIT_EVERY}.",
            widget=forms.NumberInput(
                attrs={**MODEL_FIELD_ATTRS, "placeholder": DEFAULT_REFIT_EVERY}
            ),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        name = data.get("strategy")
        strategy = backtest_strategies().get(name or "")
        if strategy is None:
            return data
        given = {
            p.name: data[f"p_{name}_{p.name}"]
            for p in strategy.params
            if data.get(f"p_{name}_{p.name}") is not None
            and not (p.type is bool and not data[f"p_{name}_{p.name}"])
        }
        try:
            data["params"] = strategy.validate(given)
        except StrategyParamError as exc:
            self.add_error(f"p_{name}_{exc.param}", str(exc))
        return data

    def job_request(self, params: dict[str, Any] | None = None) -> JobRequest:
        req = super().job_request(params or self.cleaned_data["params"])
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            value = self.cleaned_data.get(name)
            setattr(req, name, None if value is None else value / 100.0)
        if req.strategy == MODEL_STRATEGY:
            req.model = self.cleaned_data.get("model")
            req.refit = self.cleaned_data.get("refit") or None
            req.refit_every = self.cleaned_data.get("refit_every")
        return req


class SweepForm(JobForm):
    metric = forms.ChoiceField(
        choices=list(RANK_METRICS.items()), initial="sharpe", label="Rank by"
    )
    in_sample = forms.IntegerField(
        min_value=10,
        max_value=90,
        initial=70,
        label="In-sample share (%)",
        help_text="The oldest bars, used for ranking; the rest is out-of-sample.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, strategy in runnable_strategies().items():
            for param in strategy.params:
                example = "true,false" if param.type is bool else "5:50:5 or 5,10,20"
                self.fields[f"g_{name}_{param.name}"] = forms.CharField(
                    required=False,
                    max_length=200,
                    label=f"{strategy.label}: {param.name.replace('_', ' ')} values",
                    help_text=f"{example}. Blank: {param.default} (not swept).",
                    widget=forms.TextInput(
                        attrs={"data-strategy": name, "data-param": param.name}
                    ),
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        name = data.get("strategy") or ""
        strategy = runnable_strategies().get(name)
        data["grid"] = {}
        if strategy is not None:
            data["grid"] = {
                p.name: data[f"g_{name}_{p.name}"]
                for p in strategy.params
                if data.get(f"g_{name}_{p.name}")
            }
            if not data["grid"]:
                self.add_error(None, "Give values for at least one parameter.")
        return data

    def add_service_errors(self, exc: BacktestRequestError, prefix: str = "g") -> None:
        grid = exc.fields.pop("grid", None)
        if grid:
            param = next(
                (p for p in self.cleaned_data["grid"] if grid[0].startswith(p + ":")),
                None,
            )
            field = f"g_{self.cleaned_data['strategy']}_{param}" if param else None
            for message in grid:
                self.add_error(field, message)
        super().add_service_errors(exc, prefix)
