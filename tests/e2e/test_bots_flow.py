"""A paper bot in the browser: sign up, create an SMA-crossover bot on BTC-USD 1h
with short windows, start it, watch it run and trade live on the replay feed
(status, journal and orders arrive over /ws/me/), then stop it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e


def test_paper_bot_trades_live_under_replay(
    page: Any, live_url: str, feed: Any, screenshot: Any
) -> None:
    sign_up(page, live_url, "bot")

    page.goto(f"{live_url}/bots/")
    expect(page.get_by_text("No bots yet")).to_be_visible()
    page.get_by_test_id("new-bot").click()
    page.get_by_label("Name").fill("fast sma")
    page.get_by_label("Symbol").select_option("BTC-USD")
    page.get_by_label("Timeframe").select_option("1h")
    page.get_by_label("Strategy").select_option("sma_cross")
    # The strategy's own parameter fields, drawn from its declaration.
    page.get_by_test_id("param-fast").fill("3")
    page.get_by_test_id("param-slow").fill("8")
    screenshot("bot-form")
    page.get_by_role("button", name="Create bot").click()

    status = page.get_by_test_id("status-badge")
    expect(status).to_have_text("Stopped")
    expect(page.get_by_test_id("journal-empty")).to_be_visible()
    page.get_by_test_id("start").click()
    expect(status).to_have_text("Running", timeout=10_000)
    # Decisions and orders arrive by themselves over the socket.
    expect(page.get_by_test_id("journal")).to_contain_text("SMA 3", timeout=30_000)
    expect(page.get_by_test_id("orders")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("fills")).to_be_visible(timeout=30_000)
    screenshot("bot-running")

    page.get_by_test_id("stop").click()
    expect(status).to_have_text("Stopped", timeout=10_000)
    page.goto(f"{live_url}/bots/")
    expect(page.get_by_test_id("bot-row")).to_contain_text("fast sma")
    expect(page.get_by_test_id("bot-row")).to_contain_text("Stopped")
    screenshot("bots-list")
