"""First flow: sign up, reach the dashboard, log out, log in again, log out."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_sign_up_log_in_reach_dashboard_log_out(
    page: Any, live_url: str, screenshot: Any
) -> None:
    email = f"trader-{uuid.uuid4().hex[:8]}@example.com"
    password = "e2e-horse-battery-staple"

    page.goto(f"{live_url}/")
    expect(page).to_have_url(f"{live_url}/accounts/login/?next=/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Display name").fill("E2E Trader")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(f"{live_url}/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Your trader account is ready")).to_be_visible()
    expect(page.get_by_test_id("profile-link")).to_have_text("E2E Trader")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    # Honest activity: the sign-up itself was recorded.
    expect(page.get_by_role("cell", name="account.signup")).to_be_visible()
    screenshot("dashboard-after-signup")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_url}/accounts/login/")
    expect(page.get_by_text("You are signed out")).to_be_visible()

    page.get_by_label("Email").fill(email.upper())
    page.get_by_label("Password").fill("wrong-password-here")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Email or password is not correct")).to_be_visible()

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_url}/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.get_by_test_id("profile-link").click()
    expect(page.get_by_test_id("profile-email")).to_have_text(email)
    screenshot("profile")
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_url}/")
    expect(page).to_have_url(f"{live_url}/accounts/login/?next=/")


def test_signup_form_errors_are_shown_not_a_500(page: Any, live_url: str) -> None:
    page.goto(f"{live_url}/accounts/signup/")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password again").fill("different")
    # The browser's own email check would stop the submit; turn it off to reach ours.
    page.eval_on_selector(
        "form[action='/accounts/signup/']", "f => f.noValidate = true"
    )
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.get_by_text("The two passwords differ.")).to_be_visible()
