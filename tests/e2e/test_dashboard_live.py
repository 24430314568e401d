"""The dashboard, live: a trader's bots trade on the replay feed while the dashboard,
the bots list and a bot page are open, with no console error anywhere (each page's
socket receives only the fragments it has targets for); and the demo trader's first
minute, with the real feed and worker."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT
from tests.e2e.helpers import PASSWORD, sign_up

pytestmark = pytest.mark.e2e


def watch(page: Any) -> tuple[list[str], dict[str, int]]:
    """Console errors and page errors; /ws/me/ frames received per page path."""
    errors: list[str] = []
    frames: dict[str, int] = {}
    page.on(
        "console",
        lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))

    def socket(ws: Any) -> None:
        if "/ws/me/" not in ws.url:
            return
        path = page.url.split("//", 1)[1].split("/", 1)[1]

        def got(_payload: Any) -> None:
            frames[path] = frames.get(path, 0) + 1

        ws.on("framereceived", got)

    page.on("websocket", socket)
    return errors, frames


def wait_for_frames(page: Any, frames: dict[str, int], path: str) -> None:
    """Stay on the page until its socket has received a pushed frame (at most 45 s:
    a loaded machine may take a while to close the next replayed bar), then a little
    longer so that later fragments get swapped too."""
    for _ in range(90):
        if frames.get(path, 0) > 0:
            break
        page.wait_for_timeout(500)
    page.wait_for_timeout(3000)


def create_bot(page: Any, live_url: str, name: str) -> str:
    page.goto(f"{live_url}/bots/new/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Symbol").select_option("BTC-USD")
    page.get_by_label("Timeframe").select_option("1h")
    page.get_by_label("Strategy").select_option("sma_cross")
    page.get_by_test_id("param-fast").fill("3")
    page.get_by_test_id("param-slow").fill("8")
    page.get_by_role("button", name="Create bot").click()
    expect(page.get_by_test_id("status-badge")).to_have_text("Stopped")
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("status-badge")).to_have_text("Running", timeout=10_000)
    return page.url


def test_pages_get_only_their_pushes_and_log_no_console_error(
    page: Any, live_url: str, feed: Any, screenshot: Any
) -> None:
    errors, frames = watch(page)
    sign_up(page, live_url, "dash")
    first = create_bot(page, live_url, "first")
    create_bot(page, live_url, "second")  # its pushes reach none of first's page

    page.goto(f"{live_url}/")
    expect(page.get_by_test_id("dash-bot")).to_have_count(2, timeout=10_000)
    # Fills arrive on the dashboard by themselves.
    expect(page.get_by_test_id("dash-fill").first).to_be_visible(timeout=45_000)
    page.wait_for_timeout(4000)
    screenshot("dashboard-live")

    page.goto(f"{live_url}/bots/")
    expect(page.get_by_test_id("bot-row")).to_have_count(2)
    wait_for_frames(page, frames, "bots/")

    page.goto(first)
    expect(page.get_by_test_id("status-badge")).to_have_text("Running")
    wait_for_frames(page, frames, first.split("//", 1)[1].split("/", 1)[1])
    screenshot("bot-page-live")

    # Pushes did arrive on every page, and none made htmx (or anything) complain.
    assert frames.get("", 0) > 0, frames
    assert frames.get("bots/", 0) > 0, frames
    assert any(k.startswith("bots/") and k != "bots/" for k in frames), frames
    assert errors == []


def test_the_demo_traders_dashboard_moves_within_a_minute(
    page: Any,
    live_url: str,
    server_env: dict[str, str],
    feed: Any,
    worker: Any,
    screenshot: Any,
) -> None:
    errors, _frames = watch(page)
    email = f"demo-{uuid.uuid4().hex[:8]}@example.com"
    env = {**server_env, "DEMO_USER_EMAIL": email, "DEMO_USER_PASSWORD": PASSWORD}
    out = subprocess.run(
        [sys.executable, "manage.py", "bootstrap"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    ).stdout
    assert "Demo set up" in out, out

    page.goto(f"{live_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    expect(page.get_by_test_id("dash-bot")).to_contain_text("Demo SMA 5/20")
    # The bot trades on the replayed candles: fills appear without a reload...
    expect(page.get_by_test_id("dash-fill").first).to_be_visible(timeout=60_000)
    # ...and its equity moves with the price while it holds a position.
    equity = page.get_by_test_id("paper-equity")
    seen = {equity.inner_text()}
    for _ in range(60):
        page.wait_for_timeout(1000)
        seen.add(equity.inner_text())
        if len(seen) >= 3:
            break
    assert len(seen) >= 3, seen
    # The worker trains the demo models and forecasts: predictions arrive too.
    expect(page.get_by_test_id("dash-prediction").first).to_be_visible(timeout=180_000)
    screenshot("dashboard-demo")
    assert errors == []


def test_a_bot_created_elsewhere_appears_live_on_the_open_list(
    page: Any, live_url: str, feed: Any
) -> None:
    errors, _frames = watch(page)
    sign_up(page, live_url, "list")
    page.goto(f"{live_url}/bots/")
    expect(page.get_by_text("No bots yet")).to_be_visible()
    # Another tab (here the API with this session) creates and starts a bot.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": token, "Referer": f"{live_url}/bots/"}
    created = page.request.post(
        f"{live_url}/api/bots/",
        headers=headers,
        data={
            "name": "from elsewhere",
            "symbol": "BTC-USD",
            "strategy": "sma_cross",
            "params": {"fast": 3, "slow": 8},
            "timeframe": "1h",
        },
    )
    assert created.status == 201, created.text()
    row = page.get_by_test_id("bot-row")
    expect(row).to_contain_text("from elsewhere", timeout=10_000)
    expect(page.get_by_text("No bots yet")).to_be_hidden()
    bot_id = created.json()["id"]
    started = page.request.post(f"{live_url}/api/bots/{bot_id}/start/", headers=headers)
    assert started.status == 200, started.text()
    expect(row).to_contain_text("Running", timeout=10_000)  # its updates land too
    page.wait_for_timeout(3000)
    assert errors == []
