"""The demo trader's first minute: two forecasting models and a running paper bot.

On first start (``manage.py bootstrap``, which ``make run`` calls) and with the
``demo_enabled`` setting on, the demo trader gets, through the same services a user's
page or API call goes through:

- a naive and an ARIMA(2,1,0) model of BTC-USD 1h, retrained on new bars
  (``scheduled``), each queued for training as a job on the worker's training
  queue with a forecast after it;
- an SMA 5/20 crossover paper bot on BTC-USD 1h, started. On the replay feed a
  replayed hour takes ``feed_interval_seconds`` (1 s by default), and over the last
  180 days of the sample candles SMA 5 and SMA 20 change order every 15 bars on
  average, so the bot decides every second and trades within the first minute.

It happens once per demo account: a ``demo.created`` audit event marks it done, so
a second start, or a demo object the user deleted, is not created again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from apps.audit.models import AuditLog
from apps.audit.services import record_event

from .services import get_setting

SYMBOL = "BTC-USD"
TIMEFRAME = "1h"
MARKER = "demo.created"
BOT_PARAMS = {"fast": 5, "slow": 20}
MODELS = (
    ("Demo naive BTC-USD 1h", "naive", {}),
    ("Demo ARIMA BTC-USD 1h", "arima", {"p": 2, "d": 1, "q": 0}),
)


@dataclass
class DemoResult:
    created: bool
    reason: str = ""
    models: list[Any] = field(default_factory=list)
    bot: Any = None


def demo_exists(user: Any) -> bool:
    return AuditLog.objects.filter(user=user, action=MARKER).exists()


def set_up_demo(*, user: Any, enqueue: bool = True) -> DemoResult:
    """Create the demo models (training queued) and the running demo bot, once.
    ``enqueue=False`` queues the training runs without sending the tasks (tests)."""
    from apps.accounts.models import User
    from apps.bots.services import BotSpec, create_bot, start_bot
    from apps.market.models import Asset, Candle
    from apps.mlmodels.services import ModelSpec, create_model, start_training

    if not get_setting("demo_enabled"):
        return DemoResult(False, "the demo_enabled setting is off")
    asset = Asset.objects.shared().filter(symbol=SYMBOL).first()
    if (
        asset is None
        or not Candle.objects.filter(asset=asset, timeframe=TIMEFRAME).exists()
    ):
        return DemoResult(False, f"no shared {SYMBOL} {TIMEFRAME} candles")
    with transaction.atomic():
        # Two start-ups at once: the second waits here, then finds the marker.
        User.objects.select_for_update().get(pk=user.pk)
        if demo_exists(user):
            return DemoResult(False, "already set up")
        models = []
        for name, algorithm, params in MODELS:
            model = create_model(
                owner=user,
                spec=ModelSpec(
                    name=name,
                    algorithm=algorithm,
                    symbol=SYMBOL,
                    timeframe=TIMEFRAME,
                    params=params,
                    horizon=24,
                    folds=5,
                    max_train_bars=1000,
                    scheduled=True,
                ),
            )
            start_training(model=model, actor=user, predict_after=True, enqueue=enqueue)
            models.append(model)
        bot = create_bot(
            owner=user,
            spec=BotSpec(
                name="Demo SMA 5/20 BTC-USD 1h",
                symbol=SYMBOL,
                strategy="sma_cross",
                params=dict(BOT_PARAMS),
                timeframe=TIMEFRAME,
            ),
        )
        bot = start_bot(bot=bot, actor=user)
        record_event(
            action=MARKER,
            user=user,
            resource=user,
            details={"models": [m.pk for m in models], "bot": bot.pk},
        )
    return DemoResult(True, models=models, bot=bot)
