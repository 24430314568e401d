"""Bots' pages: full pages and htmx fragments, form errors as 400, owner scoping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from apps.bots.models import TradingBot

from .conftest import START, feed, make_bot, run

FORM = {
    "name": "form bot",
    "symbol": "BTC-USD",
    "timeframe": "1h",
    "strategy": "sma_cross",
    "mode": "paper",
    "starting_cash": "10000",
    "fraction": "100",
    "max_position": "100",
    "stop_loss": "5",
    "param_fast": "3",
    "param_slow": "8",
}


@pytest.fixture
def web(alice: Any) -> Client:
    c = Client()
    c.force_login(alice)
    return c


def test_list_page(web: Client, alice: Any, asset: Any) -> None:
    make_bot(alice, name="mine")
    r = web.get("/bots/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "mine" in html and 'ws-connect="/ws/me/?topics=bots"' in html


def test_create_form_creates_a_bot(web: Client, alice: Any, asset: Any) -> None:
    r = web.get("/bots/new/")
    assert r.status_code == 200 and 'id="strategies-data"' in r.content.decode()
    r = web.post("/bots/new/", FORM)
    assert r.status_code == 302, r.content.decode()[:2000]
    bot = TradingBot.objects.get(owner=alice)
    assert bot.params == {"fast": 3, "slow": 8, "allow_short": False}
    assert str(bot.stop_loss) == "0.050000"


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"param_fast": "20"}, "must be &lt; slow"),
        ({"mode": "live"}, "Live trading is not available"),
        ({"name": ""}, "This field is required"),
        ({"param_slow": "abc"}, "must be a number"),
    ],
)
def test_form_errors_are_400(web: Client, asset: Any, change: Any, text: str) -> None:
    r = web.post("/bots/new/", {**FORM, **change})
    assert r.status_code == 400
    assert text in r.content.decode()
    if "param_fast" in change:  # the posted values come back, not the defaults
        assert r.context["params_values"]["fast"] == 20
    assert not TradingBot.objects.exists()


def test_detail_page_and_fragment(web: Client, alice: Any, asset: Any) -> None:
    bot = run(make_bot(alice))
    feed(asset, end=START + timedelta(hours=60))
    r = web.get(f"/bots/{bot.pk}/")
    html = r.content.decode()
    assert r.status_code == 200
    assert f'id="bot-{bot.pk}-status"' in html and "crossed above" in html
    assert 'id="equity-data"' in html and "<script>" not in html
    r = web.get(f"/bots/{bot.pk}/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert r.content.decode().startswith(f'<div id="bot-{bot.pk}-status"')


def test_actions_through_htmx(web: Client, alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    r = web.post(f"/bots/{bot.pk}/start/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and 'data-status="running"' in r.content.decode()
    r = web.post(f"/bots/{bot.pk}/pause/", HTTP_HX_REQUEST="true")
    assert 'data-status="paused"' in r.content.decode()
    r = web.post(f"/bots/{bot.pk}/stop/")
    assert r.status_code == 302
    r = web.post(f"/bots/{bot.pk}/pause/", HTTP_HX_REQUEST="true")
    assert "Only a running bot can be paused" in r.content.decode()


def test_edit_page(web: Client, alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    assert web.get(f"/bots/{bot.pk}/edit/").status_code == 200
    r = web.post(f"/bots/{bot.pk}/edit/", {**FORM, "name": "renamed"})
    assert r.status_code == 302
    bot.refresh_from_db()
    assert bot.name == "renamed"


def test_compare_page(web: Client, alice: Any, asset: Any) -> None:
    bot = run(make_bot(alice))
    feed(asset, end=START + timedelta(hours=100))
    r = web.get(f"/bots/{bot.pk}/compare/")
    assert r.status_code == 200 and "Same trades." in r.content.decode()


def test_another_users_bot_is_404(bob: Any, alice: Any, asset: Any) -> None:
    bot = make_bot(alice)
    c = Client()
    c.force_login(bob)
    for url in ("", "edit/", "compare/"):
        assert c.get(f"/bots/{bot.pk}/{url}").status_code == 404
    assert c.post(f"/bots/{bot.pk}/start/").status_code == 404


def test_viewer_cannot_write(vera: Any, asset: Any) -> None:
    c = Client()
    c.force_login(vera)
    assert c.get("/bots/").status_code == 200
    assert c.get("/bots/new/").status_code == 403
    assert c.post("/bots/new/", FORM).status_code == 403


def test_login_required(client: Client) -> None:
    assert client.get("/bots/").status_code == 302
