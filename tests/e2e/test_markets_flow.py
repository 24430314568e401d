"""Markets: import a file through the page, read its report, open the asset chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e

BAD = """timestamp,open,high,low,close,volume
2019-07-01T00:00:00Z,100,101,99,100.5,1
2019-07-01T01:00:00Z,100.5,100,99,100.2,1
2019-07-01T02:00:00Z,100.2,101,99,100.9,2
"""
GOOD = BAD.replace("100.5,100,99,100.2", "100.5,101,99,100.2")


def test_import_a_file_then_chart_it(
    page: Any, live_url: str, tmp_path: Path, screenshot: Any
) -> None:
    sign_up(page, live_url, "mk")
    page.get_by_role("link", name="Markets").first.click()
    # The shared sample data is there from the first start.
    expect(page.get_by_test_id("asset-row-BTC-USD")).to_be_visible()

    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    page.get_by_label("File", exact=True).set_input_files(str(bad))
    page.get_by_label("Symbol").fill("SOL-USD")
    page.get_by_label("Timeframe").select_option("1h")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Failed")
    expect(page.get_by_test_id("import-errors")).to_contain_text("high 100")
    expect(page.get_by_test_id("import-message")).to_contain_text("nothing was written")

    page.get_by_role("link", name="Back to Markets").click()
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    page.get_by_label("File", exact=True).set_input_files(str(good))
    page.get_by_label("Symbol").fill("SOL-USD")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Succeeded")

    page.get_by_role("link", name="SOL-USD").first.click()
    expect(page.get_by_test_id("last-price")).to_contain_text("100.90")
    expect(page.get_by_test_id("last-price")).to_contain_text("stale")
    page.get_by_role("link", name="all", exact=True).click()
    chart = page.get_by_test_id("price-chart")
    expect(chart).to_have_attribute("data-bars", "3")
    expect(chart.locator("g.trace.boxes, g.cartesianlayer")).not_to_have_count(0)
    screenshot("asset-chart")

    page.get_by_role("link", name="Markets").first.click()
    row = page.get_by_test_id("asset-row-SOL-USD")
    expect(row).to_contain_text("private")
    expect(row).to_contain_text("100.90")
