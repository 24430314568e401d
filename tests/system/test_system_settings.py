from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.audit.models import AuditLog
from apps.system.models import Setting
from apps.system.registry import SETTINGS, SettingValueError, spec_for
from apps.system.services import get_setting, update_setting

pytestmark = pytest.mark.django_db


def test_every_registry_key_is_stored_with_its_default_after_migrate() -> None:
    stored = dict(Setting.objects.values_list("key", "value"))
    assert stored == {k: spec.default for k, spec in SETTINGS.items()}


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("default_fee_bps", "12.5", 12.5),
        ("max_bots_per_user", "3", 3),
        ("emergency_stop", "on", True),
        ("market_data_provider", "coingecko", "coingecko"),
    ],
)
def test_values_are_coerced_to_their_type(key: str, raw: str, expected: Any) -> None:
    assert spec_for(key).parse(raw) == expected


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("default_fee_bps", "-1", "at least 0"),
        ("default_fee_bps", "nan", "finite"),
        ("max_bots_per_user", "2.5", "whole number"),
        ("emergency_stop", "maybe", "true or false"),
        ("market_data_provider", "binance", "one of: replay, coingecko"),
        ("nope", "1", "unknown setting"),
    ],
)
def test_bad_values_get_clear_messages(key: str, raw: str, message: str) -> None:
    with pytest.raises(SettingValueError, match=message):
        spec_for(key).parse(raw)


def test_update_is_validated_cached_and_audited(admin: Any) -> None:
    assert get_setting("default_fee_bps") == 10.0
    update_setting(key="default_fee_bps", value="7", actor=admin)
    assert get_setting("default_fee_bps") == 7.0
    event = AuditLog.objects.get(action="settings.changed")
    assert event.details == {"key": "default_fee_bps", "old": 10.0, "new": 7.0}
    with pytest.raises(SettingValueError):
        update_setting(key="default_fee_bps", value="-5", actor=admin)
    assert get_setting("default_fee_bps") == 7.0
    assert AuditLog.objects.filter(action="settings.changed").count() == 1


def test_admin_edits_settings_with_form_errors_for_bad_values(
    client: Client, admin: Any
) -> None:
    client.force_login(admin)
    row = Setting.objects.get(key="emergency_stop")
    bad = client.post(f"/admin/system/setting/{row.pk}/change/", {"value": "perhaps"})
    assert bad.status_code == 200 and b"true or false" in bad.content
    good = client.post(f"/admin/system/setting/{row.pk}/change/", {"value": "true"})
    assert good.status_code == 302
    assert get_setting("emergency_stop") is True
    assert AuditLog.objects.filter(action="settings.changed", user=admin).count() == 1
