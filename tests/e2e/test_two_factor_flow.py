"""Two-factor flow in a real browser: turn it on from the profile page (the secret is
read off the page and the code computed here, as an authenticator app would), sign
out, sign in with the password and then a code."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.accounts.totp_reference import key_from_base32, totp
from tests.e2e.helpers import PASSWORD, sign_up

pytestmark = pytest.mark.e2e


def test_enable_two_factor_then_sign_in_with_password_and_code(
    page: Any, live_url: str, screenshot: Any
) -> None:
    email = sign_up(page, live_url, "twofa")
    page.get_by_test_id("profile-link").click()
    expect(page.get_by_test_id("two-factor-status")).to_contain_text("Off")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()

    expect(page).to_have_url(f"{live_url}/accounts/two-factor/setup/")
    qr = page.get_by_test_id("two-factor-qr")
    expect(qr).to_be_visible()
    # The QR code is an image from our own origin: the CSP lets it load.
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0
    key = key_from_base32(page.get_by_test_id("two-factor-secret").inner_text())
    screenshot("two-factor-setup")
    page.get_by_label("Code").fill(totp(key, time.time()))
    page.get_by_role("button", name="Confirm and turn on").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    page.get_by_role("link", name="I have stored them").click()
    expect(page.get_by_test_id("two-factor-status")).to_contain_text(
        "10 recovery codes left"
    )

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_url}/accounts/login/code/")
    # Only half-way in: every page still asks for a sign-in.
    page.goto(f"{live_url}/accounts/profile/")
    expect(page).to_have_url(f"{live_url}/accounts/login/?next=/accounts/profile/")
    page.goto(f"{live_url}/accounts/login/code/")

    # The code of the set-up step is spent; the next step's is accepted (one step
    # of tolerance), as an app shows it a moment later.
    page.get_by_label("Code").fill(totp(key, time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{live_url}/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    screenshot("two-factor-signed-in")
