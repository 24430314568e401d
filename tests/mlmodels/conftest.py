"""Shared fixtures of the models app: a deterministic hourly series stored as
candles, artefacts under a temporary var/ directory, and model factories."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

START = datetime(2019, 1, 1, tzinfo=UTC)


def closes(n: int) -> list[float]:
    """A trend plus a daily wave: smooth, positive, reproducible."""
    return [
        100 + 0.05 * i + 2 * math.sin(2 * math.pi * i / 24) + (i % 7) * 0.1
        for i in range(n)
    ]


def store_bars(asset: Any, values: list[float], start: datetime = START) -> None:
    from apps.market.services import Bar, upsert_candles

    bars = []
    for i, c in enumerate(values):
        o = values[i - 1] if i else c
        bars.append(
            Bar(start + timedelta(hours=i), o, max(o, c) + 0.5, min(o, c) - 0.5, c, 1.0)
        )
    upsert_candles(asset=asset, timeframe="1h", bars=bars)


@pytest.fixture(autouse=True)
def _var_dir(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    if not request.node.get_closest_marker("django_db"):
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.VAR_DIR = tmp_path
    yield


@pytest.fixture
def asset(db: Any) -> Any:
    from apps.market.services import get_or_create_asset

    asset = get_or_create_asset(symbol="BTC-USD")
    store_bars(asset, closes(300))
    return asset


@pytest.fixture
def make_model(asset: Any) -> Any:
    from apps.mlmodels.services import ModelSpec, create_model

    def make(owner: Any, **kw: Any) -> Any:
        spec = ModelSpec(
            name=kw.pop("name", "naive one"),
            algorithm=kw.pop("algorithm", "naive"),
            symbol=kw.pop("symbol", "BTC-USD"),
            timeframe=kw.pop("timeframe", "1h"),
            params=kw.pop("params", {}),
            horizon=kw.pop("horizon", 6),
            folds=kw.pop("folds", 3),
            max_train_bars=kw.pop("max_train_bars", 200),
            **kw,
        )
        return create_model(owner=owner, spec=spec)

    return make


@pytest.fixture
def trained(alice: Any, make_model: Any) -> Any:
    """A trained naive model of alice's, trained in-process."""
    from apps.mlmodels.services import run_training, start_training

    model = make_model(alice)
    run = start_training(model=model, actor=alice, enqueue=False)
    run_training(run_id=run.pk)
    model.refresh_from_db()
    return model
