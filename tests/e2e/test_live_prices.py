"""Live prices: with the replay feed running, the Markets page and the asset page
update by themselves over the WebSocket, labelled REPLAY with the replayed date."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e


def test_prices_move_live_under_replay(
    page: Any, live_url: str, feed: Any, screenshot: Any
) -> None:
    sign_up(page, live_url, "live")

    page.goto(f"{live_url}/markets/")
    live = page.locator("#live-BTC-USD")
    expect(live).to_contain_text("REPLAY", timeout=15000)
    first_seq = int(live.get_attribute("data-seq") or 0)
    first_text = live.inner_text()
    # New fragments arrive by themselves: the sequence number and replayed time move.
    expect(live).not_to_have_attribute("data-seq", str(first_seq), timeout=10000)
    page.wait_for_function(
        "([seq]) => parseInt(document.getElementById('live-BTC-USD').dataset.seq) > seq + 3",
        arg=[first_seq],
        timeout=15000,
    )
    assert live.inner_text() != first_text
    assert re.search(r"REPLAY \d{4}-\d{2}-\d{2} \d{2}:\d{2}", live.inner_text())
    screenshot("markets-live")

    page.get_by_role("link", name="BTC-USD").first.click()
    chart = page.get_by_test_id("price-chart")
    expect(chart).to_have_attribute("data-bars", re.compile(r"^\d+$"), timeout=15000)
    # The forming bar is drawn on the chart as it moves.
    expect(chart).to_have_attribute(
        "data-live-bar", re.compile(r"^\d{4}-"), timeout=15000
    )
    screenshot("asset-live")
