"""Backtests in the browser: import real candles, run a backtest through the worker,
watch it reach Succeeded live, then read its cards and charts; then a sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e
SAMPLE = Path(__file__).resolve().parents[2] / "data/market/bitfinex-1h-btc-usd.csv"


def test_run_a_backtest_and_a_sweep(
    page: Any, live_url: str, worker: Any, tmp_path: Path, screenshot: Any
) -> None:
    # The newest 600 hours of the real Bitfinex sample, imported as a private asset.
    lines = SAMPLE.read_text().splitlines()
    csv = tmp_path / "btc-1h.csv"
    csv.write_text("\n".join(lines[:601]) + "\n")
    sign_up(page, live_url, "bt")
    page.goto(f"{live_url}/markets/")
    page.get_by_label("File", exact=True).set_input_files(str(csv))
    page.get_by_label("Symbol").fill("BTC-USD")
    page.get_by_label("Timeframe").select_option("1h")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Succeeded")

    page.get_by_role("link", name="Backtests").first.click()
    expect(page.get_by_text("No backtests yet")).to_be_visible()
    page.get_by_label("Strategy").select_option("sma_cross")
    # Only the chosen strategy's parameters are shown.
    expect(page.get_by_label("RSI mean reversion: period")).to_be_hidden()
    page.get_by_label("SMA crossover: fast").fill("10")
    page.get_by_label("SMA crossover: slow").fill("30")
    page.get_by_role("button", name="Run backtest").click()

    expect(page.get_by_test_id("status-badge")).to_have_text(
        "Succeeded", timeout=30_000
    )
    expect(page.get_by_test_id("metric-cards")).to_be_visible()
    expect(page.get_by_test_id("metric-total_return")).to_contain_text("%")
    expect(
        page.get_by_test_id("equity-chart").locator(".main-svg").first
    ).to_be_attached()
    expect(page.get_by_test_id("trade-chart").locator("g.trace").first).to_be_attached()
    expect(page.get_by_test_id("trade-table")).to_be_visible()
    screenshot("backtest-detail")

    page.get_by_role("link", name="All backtests").click()
    expect(page.get_by_test_id("backtest-list")).to_contain_text("sma_cross")
    page.get_by_role("link", name="Parameter sweeps").click()
    page.get_by_label("Strategy").select_option("sma_cross")
    page.get_by_label("SMA crossover: fast values").fill("5:15:5")
    page.get_by_label("SMA crossover: slow values").fill("20,30,40")
    page.get_by_role("button", name="Run sweep").click()
    expect(page.get_by_test_id("status-badge")).to_have_text(
        "Succeeded", timeout=30_000
    )
    expect(page.get_by_test_id("sweep-ranking")).to_contain_text("IS sharpe")
    expect(
        page.get_by_test_id("heatmap-is").locator(".main-svg").first
    ).to_be_attached()
    screenshot("sweep-detail")
