from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from apps.accounts.models import User

pytestmark = pytest.mark.django_db


def test_email_is_the_login_and_case_insensitive(alice: Any, password: str) -> None:
    assert User.USERNAME_FIELD == "email"
    assert User.objects.get_by_natural_key("ALICE@Example.COM") == alice
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("Alice@EXAMPLE.com", password)


def test_new_users_are_traders_with_argon2_hashes() -> None:
    user = User.objects.create_user("new@example.com", "a-long-enough-password")
    assert user.role == User.Role.TRADER
    assert user.password.startswith("argon2$")
    assert not user.is_staff


def test_admin_role_grants_admin_site_access_and_demotion_removes_it(bob: Any) -> None:
    bob.role = User.Role.ADMIN
    bob.save()
    assert bob.is_staff
    bob.role = User.Role.VIEWER
    bob.save()
    assert not bob.is_staff
    assert not bob.can_write


def test_unknown_role_is_refused_by_the_database(alice: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=alice.pk).update(role="wizard")
