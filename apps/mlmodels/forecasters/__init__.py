"""Forecaster registry: one interface, one module per algorithm.

Importing this package imports no heavy library (statsmodels, prophet, tensorflow);
each algorithm imports its library inside ``fit`` and ``load``.

    >>> model = create("arima", {"p": 2, "d": 1, "q": 0})
    >>> forecast = model.fit(closes).forecast(24, level=0.95)
    >>> sha256 = model.save(path)            # store the digest beside the path
    >>> same = load(path, expected_sha256=sha256)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .arima import ArimaForecaster
from .base import (
    LEVELS,
    TIMEFRAMES,
    ArtefactError,
    Cancelled,
    Forecast,
    Forecaster,
    ForecastError,
    NotFittedError,
    ParamError,
    ParamSpec,
    read_artefact,
)
from .lstm import LstmForecaster
from .naive import DriftForecaster, NaiveForecaster, SeasonalNaiveForecaster
from .prophet_model import ProphetForecaster
from .sarima import SarimaForecaster

FORECASTERS: Mapping[str, type[Forecaster]] = MappingProxyType(
    {
        cls.name: cls
        for cls in (
            NaiveForecaster,
            SeasonalNaiveForecaster,
            DriftForecaster,
            ArimaForecaster,
            SarimaForecaster,
            ProphetForecaster,
            LstmForecaster,
        )
    }
)
BASELINES = ("naive", "seasonal_naive", "drift")


def get(name: str) -> type[Forecaster]:
    """The forecaster class registered as ``name``; ParamError if there is none."""
    try:
        return FORECASTERS[name]
    except KeyError:
        choices = ", ".join(FORECASTERS)
        raise ParamError("algorithm", f"algorithm must be one of: {choices}") from None


def create(name: str, params: Mapping[str, Any] | None = None) -> Forecaster:
    """An unfitted forecaster with validated params (ParamError names a bad field)."""
    return get(name)(params)


def validate(name: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validated params with defaults filled in, e.g. for a form's clean()."""
    return create(name, params).params


def describe() -> list[dict[str, Any]]:
    """Every algorithm with its parameter specs, for forms and the API."""
    return [cls.describe() for cls in FORECASTERS.values()]


def load(
    path: str | os.PathLike[str], expected_sha256: str | None = None
) -> Forecaster:
    """Load any artefact; the checksum is verified before anything is parsed."""
    artefact = read_artefact(path, expected_sha256)
    cls = FORECASTERS.get(str(artefact.meta.get("algorithm")))
    if cls is None:
        raise ArtefactError(
            f"artefact algorithm {artefact.meta.get('algorithm')!r} is unknown"
        )
    return cls.from_artefact(artefact)


__all__ = [
    "BASELINES",
    "FORECASTERS",
    "LEVELS",
    "TIMEFRAMES",
    "ArtefactError",
    "Cancelled",
    "Forecast",
    "ForecastError",
    "Forecaster",
    "NotFittedError",
    "ParamError",
    "ParamSpec",
    "create",
    "describe",
    "get",
    "load",
    "validate",
]
