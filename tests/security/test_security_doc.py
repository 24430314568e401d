"""SECURITY.md stays true: linked from the README, naming only settings and files
that exist."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "SECURITY.md").read_text()


def test_readme_links_the_security_page() -> None:
    assert "(SECURITY.md)" in (ROOT / "README.md").read_text()


def test_every_setting_named_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    names = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", DOC))
    assert {"TRUSTED_PROXIES", "METRICS_TOKEN", "RATELIMIT_LOGIN_ACCOUNT"} <= names
    # A Django setting, or an environment variable the README documents.
    missing = [n for n in names if not hasattr(settings, n) and f"`{n}`" not in readme]
    assert not missing


def test_every_file_named_exists() -> None:
    paths = set(re.findall(r"`((?:apps|aaiti|requirements)/[\w/.]+)`", DOC))
    paths |= set(re.findall(r"`([\w-]+\.yaml)`", DOC))  # top-level files
    assert "apps/accounts/ratelimit.py" in paths
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing


def test_the_celery_and_header_claims_match_the_settings() -> None:
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.X_FRAME_OPTIONS == "DENY"
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
