"""The demo trader's first minute: `bootstrap` creates the demo models (training
queued as jobs) and a running SMA bot through the services, once; with the
``demo_enabled`` setting off, nothing."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from apps.audit.models import AuditLog
from apps.bots.models import TradingBot
from apps.mlmodels.models import MLModel, TrainingRun
from tests.bots.conftest import make_asset, set_setting

pytestmark = pytest.mark.django_db
EMAIL = "demo@example.com"


@pytest.fixture
def demo_env(settings: Any, monkeypatch: Any) -> list[int]:
    settings.DEMO_USER_EMAIL = EMAIL
    settings.DEMO_USER_PASSWORD = "demo-horse-battery-staple"
    # The sample files are the loader's own test; here a small BTC-USD 1h series.
    monkeypatch.setattr("apps.market.sample_data.load_sample_data", lambda: [])
    make_asset("BTC-USD", n=120)
    enqueued: list[int] = []
    monkeypatch.setattr(
        "apps.mlmodels.services.training._enqueue_training", enqueued.append
    )
    return enqueued


def bootstrap() -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def test_bootstrap_sets_up_the_demo_through_the_services_once(
    demo_env: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        out = bootstrap()
    assert "Demo set up" in out
    from apps.accounts.models import User

    user = User.objects.get(email=EMAIL)
    models = MLModel.objects.filter(owner=user).order_by("pk")
    assert [(m.algorithm, m.symbol, m.timeframe, m.scheduled) for m in models] == [
        ("naive", "BTC-USD", "1h", True),
        ("arima", "BTC-USD", "1h", True),
    ]
    assert models[1].params["p"] == 2 and models[1].params["d"] == 1
    runs = TrainingRun.objects.filter(model__owner=user)
    assert runs.count() == 2 and all(r.status == "queued" for r in runs)
    assert all(r.predict_after for r in runs)
    # Submitted as jobs: each run's task was sent to the queue after commit.
    assert sorted(demo_env) == sorted(r.pk for r in runs)
    bot = TradingBot.objects.get(owner=user)
    assert (bot.strategy, bot.params, bot.timeframe, bot.asset.symbol) == (
        "sma_cross",
        {"fast": 5, "slow": 20, "allow_short": False},
        "1h",
        "BTC-USD",
    )
    assert bot.status == TradingBot.Status.RUNNING and bot.mode == "paper"
    actions = list(AuditLog.objects.filter(user=user).values_list("action", flat=True))
    for action in (
        "model.created",
        "model.training_started",
        "bot.created",
        "bot.started",
        "demo.created",
    ):
        assert action in actions, action
    # A second start changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = bootstrap()
    assert "already set up" in again
    assert MLModel.objects.filter(owner=user).count() == 2
    assert TradingBot.objects.filter(owner=user).count() == 1
    assert TrainingRun.objects.filter(model__owner=user).count() == 2
    assert len(demo_env) == 2
    assert AuditLog.objects.filter(user=user, action="demo.created").count() == 1


def test_a_deleted_demo_bot_is_not_created_again(demo_env: list[int]) -> None:
    from apps.bots.services import delete_bot, stop_bot

    bootstrap()
    bot = TradingBot.objects.get(owner__email=EMAIL)
    stop_bot(bot=bot, actor=bot.owner)
    delete_bot(bot=bot, actor=bot.owner)
    bootstrap()
    assert not TradingBot.objects.filter(owner__email=EMAIL).exists()


def test_with_the_setting_off_the_demo_creates_nothing(demo_env: list[int]) -> None:
    set_setting("demo_enabled", False)
    out = bootstrap()
    assert "demo_enabled setting is off" in out
    from apps.accounts.models import User

    user = User.objects.get(email=EMAIL)  # the account itself is still created
    assert not MLModel.objects.filter(owner=user).exists()
    assert not TradingBot.objects.filter(owner=user).exists()
    assert demo_env == []


def test_without_btc_candles_the_demo_says_why(settings: Any, monkeypatch: Any) -> None:
    settings.DEMO_USER_EMAIL = EMAIL
    monkeypatch.setattr("apps.market.sample_data.load_sample_data", lambda: [])
    out = bootstrap()
    assert "no shared BTC-USD 1h candles" in out
    assert not TradingBot.objects.exists()


def test_the_demo_bots_parameters_trade_within_a_minute_of_replay() -> None:
    """On the shipped candles' replay window (the last 180 days of BTC-USD 1h), SMA
    5/20 changes its target often: at least three trades in the first 60 bars (a
    minute at the default replay speed) wherever the replay starts."""
    import csv
    from pathlib import Path

    import numpy as np
    from django.conf import settings as dj

    from apps.backtests.engine import OHLCV
    from apps.backtests.strategies import get_strategy

    path = Path(dj.BASE_DIR) / "data" / "market" / "bitfinex-1h-btc-usd.csv"
    with path.open() as f:
        rows = sorted((r["Date"], float(r["Close"])) for r in csv.DictReader(f))
    closes = np.array([c for _, c in rows[-(180 * 24 + 500) :]])
    n = len(closes)
    data = OHLCV(np.arange(n, dtype=np.int64), closes, closes, closes, closes, closes)
    target = get_strategy("sma_cross").signals(data, fast=5, slow=20)[500:] > 0
    worst = min(
        int(np.count_nonzero(np.diff(target[i : i + 60].astype(int))))
        + int(target[i])  # flat at the start: a long target buys at once
        for i in range(0, len(target) - 60, 6)
    )
    assert worst >= 1
    average = np.count_nonzero(np.diff(target.astype(int))) / len(target) * 60
    assert average >= 3
