"""The fixed cast: alice (a trader, the owner), bob (another trader), vera (a viewer)
and admin. Every test starts with an empty shared cache, so rate-limit counters and
cached settings never leak between tests."""

from __future__ import annotations

from typing import Any

import pytest

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _clear_cache(request: pytest.FixtureRequest) -> Any:
    if (
        "django_db_setup" not in request.fixturenames
        and not request.node.get_closest_marker("django_db")
    ):
        # Pure tests (engines, parsers) need no Django at all.
        yield
        return
    clear_cache_keys()
    yield


def clear_cache_keys() -> None:
    """Delete this cache's own keys only. cache.clear() would FLUSHDB the whole Redis
    database, Celery broker queues of a worker sharing it included."""
    from django.conf import settings
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)  # noqa: SLF001 - Django's Redis client
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def alice(db: Any) -> Any:
    from tests.factories import UserFactory

    return UserFactory(email="alice@example.com", display_name="Alice")


@pytest.fixture
def bob(db: Any) -> Any:
    from tests.factories import UserFactory

    return UserFactory(email="bob@example.com", display_name="Bob")


@pytest.fixture
def vera(db: Any) -> Any:
    from tests.factories import UserFactory

    return UserFactory(email="vera@example.com", role="viewer")


@pytest.fixture
def admin(db: Any) -> Any:
    from tests.factories import UserFactory

    user = UserFactory(email="admin@example.com", role="admin", is_superuser=True)
    return with_verified_device(user)


def with_verified_device(user: Any) -> Any:
    """Give ``user`` a confirmed authenticator and mark it as the one they passed:
    client.force_login(user) then yields a two-factor-verified session, which
    Django admin requires (apps/accounts/admin_site.py)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user.otp_device = TOTPDevice.objects.create(
        user=user, name="Authenticator app", confirmed=True
    )
    return user


@pytest.fixture
def api() -> Any:
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def tokens(api: Any, alice: Any) -> dict[str, str]:
    response = api.post(
        "/api/auth/token/", {"email": alice.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in
    the main thread for the rest of the session, and Django refuses synchronous
    database calls from a thread with a running loop."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.path))
