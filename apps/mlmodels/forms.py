"""The model form. Every algorithm's parameters (from ``forecasters.describe()``)
are fields of one form, named ``p_<algorithm>__<param>`` and tagged
``data-algorithm`` so static/js/model_form.js shows only the chosen algorithm's;
without JavaScript all are shown, labelled by algorithm, and only the chosen
one's are read. The server checks them with the registry's ``validate``."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.market.models import TIMEFRAMES, Asset

from .services import LEVEL_CHOICES, ModelRequestError, ModelSpec, algorithms


def _symbols(user: Any) -> list[tuple[str, str]]:
    symbols = Asset.objects.visible_to(user).values_list("symbol", flat=True)
    return [(s, s) for s in sorted(set(symbols))]


def param_field_name(algorithm: str, param: str) -> str:
    return f"p_{algorithm}__{param}"


def _param_field(algo: dict[str, Any], spec: dict[str, Any]) -> forms.Field:
    attrs = {"data-algorithm": algo["name"], "data-param": spec["name"]}
    label = f"{algo['label']}: {spec['label']}"
    hint = f"{spec['help']} Default {spec['default']}."
    kind = spec["type"]
    if kind == "bool":
        return forms.BooleanField(
            required=False,
            label=label,
            initial=spec["default"],
            help_text=spec["help"],
            widget=forms.CheckboxInput(attrs=attrs),
        )
    if kind == "str":
        return forms.ChoiceField(
            required=False,
            label=label,
            initial=spec["default"],
            choices=[(c, c) for c in spec["choices"] or []],
            help_text=spec["help"],
            widget=forms.Select(attrs=attrs),
        )
    field = forms.IntegerField if kind == "int" else forms.FloatField
    return field(
        required=False,
        label=label,
        help_text=hint,
        widget=forms.NumberInput(
            attrs={
                **attrs,
                "placeholder": spec["default"],
                "step": "1" if kind == "int" else "any",
                **({"min": spec["min"]} if spec["min"] is not None else {}),
                **({"max": spec["max"]} if spec["max"] is not None else {}),
            }
        ),
    )


class ModelForm(forms.Form):
    name = forms.CharField(max_length=100)
    algorithm = forms.ChoiceField(
        widget=forms.Select(attrs={"data-algorithm-select": "1"})
    )
    symbol = forms.ChoiceField()
    timeframe = forms.ChoiceField(choices=[(t, t) for t in TIMEFRAMES], initial="1h")
    horizon = forms.IntegerField(
        min_value=1, max_value=500, initial=24, help_text="Bars forecast ahead."
    )
    folds = forms.IntegerField(
        min_value=1,
        max_value=20,
        initial=5,
        help_text="Walk-forward folds, each scored on the next horizon bars.",
    )
    max_train_bars = forms.IntegerField(
        min_value=20,
        max_value=50_000,
        initial=2000,
        label="Training window (bars)",
        help_text="The most recent bars each fit sees.",
    )
    level = forms.TypedChoiceField(
        choices=[(str(c), f"{c:.0%}") for c in LEVEL_CHOICES],
        coerce=float,
        initial="0.95",
        label="Interval level",
    )
    scheduled = forms.BooleanField(
        required=False,
        label="Retrain on new bars and forecast on a schedule",
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.algorithms = algorithms()
        self.fields["algorithm"].choices = [
            (a["name"], a["label"]) for a in self.algorithms
        ]
        self.fields["symbol"].choices = _symbols(user)
        for algo in self.algorithms:
            for spec in algo["params"]:
                name = param_field_name(algo["name"], spec["name"])
                self.fields[name] = _param_field(algo, spec)

    def param_fields(self) -> list[Any]:
        return [self[n] for n in self.fields if n.startswith("p_")]

    def base_fields_bound(self) -> list[Any]:
        return [self[n] for n in self.fields if not n.startswith("p_")]

    def spec(self) -> ModelSpec:
        data = self.cleaned_data
        algo = next(a for a in self.algorithms if a["name"] == data["algorithm"])
        params: dict[str, Any] = {}
        for spec in algo["params"]:
            value = data.get(param_field_name(algo["name"], spec["name"]))
            if value is None or value == "":
                continue
            params[spec["name"]] = value
        return ModelSpec(
            name=data["name"],
            algorithm=data["algorithm"],
            symbol=data["symbol"],
            timeframe=data["timeframe"],
            params=params,
            horizon=data["horizon"],
            folds=data["folds"],
            max_train_bars=data["max_train_bars"],
            level=data["level"],
            scheduled=data["scheduled"],
        )

    def add_service_errors(self, exc: ModelRequestError) -> None:
        """Each of the service's field messages on the matching form field."""
        for name, messages in exc.fields.items():
            target: str | None = name
            if name.startswith("params."):
                target = param_field_name(self.cleaned_data["algorithm"], name[7:])
            if target not in self.fields:
                target = None
            for message in messages:
                self.add_error(target, message)
