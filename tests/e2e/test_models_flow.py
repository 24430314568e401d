"""Models: create an ARIMA model on the sample BTC-USD 1h data, train it through
the worker, see its skill and chart, request a forecast and see it listed."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e


def test_create_train_and_forecast_a_model(
    page: Any, live_url: str, worker: Any, screenshot: Any
) -> None:
    sign_up(page, live_url, "ml")
    page.get_by_role("link", name="Models").first.click()
    expect(page.get_by_text("No models yet.")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("ARIMA hourly")
    page.get_by_label("Algorithm", exact=True).select_option("arima")
    # Only the chosen algorithm's parameters are shown.
    expect(page.locator('[name="p_arima__p"]')).to_be_visible()
    expect(page.locator('[name="p_lstm__epochs"]')).to_be_hidden()
    page.locator('[name="p_arima__p"]').fill("2")
    page.get_by_label("Symbol").select_option("BTC-USD")
    page.get_by_label("Timeframe").select_option("1h")
    page.get_by_label("Training window (bars)").fill("1000")
    screenshot("models-form")
    page.get_by_role("button", name="Create model").click()
    expect(page.get_by_role("heading", name="ARIMA hourly")).to_be_visible()
    expect(page.get_by_test_id("status-badge")).to_have_text("Untrained")

    page.get_by_test_id("train-button").click()
    # Queued, then training with live progress, then trained (the page reloads).
    expect(page.get_by_test_id("status-badge")).to_have_text("Trained", timeout=60_000)
    expect(page.get_by_test_id("skill")).to_be_visible()
    expect(page.get_by_test_id("verdict")).to_contain_text("naive forecast")
    expect(page.get_by_test_id("metrics-table")).to_contain_text("RMSE")
    chart = page.get_by_test_id("forecast-chart")
    expect(chart).to_have_attribute("data-folds", "5")
    expect(chart.locator(".main-svg").first).to_be_visible()
    expect(page.get_by_test_id("runs-table")).to_contain_text("statsmodels")

    page.get_by_test_id("predict-button").click()
    rows = page.get_by_test_id("prediction-row")
    expect(rows).to_have_count(24, timeout=30_000)
    expect(page.get_by_test_id("prediction-table")).to_contain_text("pending")
    # The new forecast joins the chart without a reload.
    expect(chart).to_have_attribute("data-forecast-points", "24")
    screenshot("models-detail")

    page.get_by_role("link", name="All models").click()
    row = page.get_by_test_id("model-row")
    expect(row).to_contain_text("ARIMA hourly")
    expect(row).to_contain_text("Trained")
    screenshot("models-list")
