"""Bots in Django admin: every ledger model lists and opens, read-only; bots are
paused and stopped through the services (audited)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from apps.audit.models import AuditLog
from apps.bots.models import (
    Fill,
    JournalEntry,
    Order,
    PaperAccount,
    Position,
    TradingBot,
)

from .conftest import START, feed, make_bot, run

MODELS = [TradingBot, PaperAccount, Position, Order, Fill, JournalEntry]


@pytest.fixture
def traded(alice: Any, asset: Any) -> TradingBot:
    bot = run(make_bot(alice))
    feed(asset, end=START + timedelta(hours=60))
    assert Fill.objects.filter(bot=bot).exists()
    return bot


def staff(admin: Any) -> Client:
    client = Client()
    client.force_login(admin)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_search_and_change_pages_load(
    admin: Any, traded: TradingBot, model: Any
) -> None:
    client = staff(admin)
    base = f"/admin/bots/{model._meta.model_name}/"
    listing = client.get(base)
    assert listing.status_code == 200
    assert client.get(base, {"q": "alice"}).status_code == 200
    obj = model.objects.first()
    change = client.get(f"{base}{obj.pk}/change/")
    assert change.status_code == 200
    html = change.content.decode()
    # Read-only: no save button, and posting changes nothing.
    assert 'name="_save"' not in html
    assert client.post(f"{base}{obj.pk}/change/", {}).status_code == 403
    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_filters_load(admin: Any, traded: TradingBot) -> None:
    client = staff(admin)
    assert client.get("/admin/bots/order/", {"status": "filled"}).status_code == 200
    assert (
        client.get("/admin/bots/tradingbot/", {"status": "running"}).status_code == 200
    )
    assert (
        client.get("/admin/bots/journalentry/", {"kind": "decision"}).status_code == 200
    )


@pytest.mark.django_db
def test_stop_action_goes_through_the_service(admin: Any, traded: TradingBot) -> None:
    client = staff(admin)
    response = client.post(
        "/admin/bots/tradingbot/",
        {"action": "stop_bots", "_selected_action": [traded.pk]},
        follow=True,
    )
    assert response.status_code == 200
    traded.refresh_from_db()
    assert traded.status == TradingBot.Status.STOPPED
    event = AuditLog.objects.filter(action="bot.stopped").latest("pk")
    assert event.user_id == admin.pk


@pytest.mark.django_db
def test_traders_cannot_reach_bots_admin(alice: Any, traded: TradingBot) -> None:
    client = Client()
    client.force_login(alice)
    response = client.get("/admin/bots/tradingbot/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
