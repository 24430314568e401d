"""Steps several browser flows share."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import expect

PASSWORD = "e2e-horse-battery-staple"


def sign_up(page: Any, live_url: str, prefix: str) -> str:
    """Create a fresh trader through the sign-up page; return its email."""
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{live_url}/accounts/signup/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return email
