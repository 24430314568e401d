"""WebSockets follow the two-factor rule: a session of a user with two factors on
that never passed a second factor is anonymous on /ws/me/."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from aaiti.asgi import application
from apps.accounts import twofactor
from tests.accounts.totp_reference import totp

# The consumer reads the session from another thread: rows must be committed, and a
# transactional test cannot write audit rows (the table refuses the flush's DELETE),
# so recording is switched off here; the audit of these steps is tested elsewhere.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_audit_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.accounts import signals

    monkeypatch.setattr(signals, "record_event", lambda **kwargs: None)
    monkeypatch.setattr(twofactor, "record_event", lambda **kwargs: None)


def connects(session_cookie: str) -> bool:
    async def scenario() -> bool:
        comm = WebsocketCommunicator(
            application,
            "/ws/me/",
            headers=[
                (b"origin", b"http://localhost"),
                (b"host", b"localhost"),
                (b"cookie", f"sessionid={session_cookie}".encode()),
            ],
        )
        connected, _ = await comm.connect()
        await comm.disconnect()
        return bool(connected)

    return bool(async_to_sync(scenario)())


def test_an_unverified_session_of_a_two_factor_user_cannot_open_ws_me(
    alice: Any, bob: Any
) -> None:
    old = Client()
    old.force_login(alice)
    assert connects(old.cookies["sessionid"].value)
    device = twofactor.start_setup(user=alice)
    twofactor.confirm_setup(user=alice, code=totp(device.bin_key, time.time()))
    assert not connects(old.cookies["sessionid"].value)
    # A session that passed the second factor connects.
    alice.otp_device = device
    verified = Client()
    verified.force_login(alice)
    assert connects(verified.cookies["sessionid"].value)
    other = Client()
    other.force_login(bob)
    assert connects(other.cookies["sessionid"].value)
