from __future__ import annotations

from typing import Any

from django import template

from apps.accounts import twofactor

register = template.Library()


@register.inclusion_tag("accounts/_two_factor.html", takes_context=True)
def two_factor_panel(context: dict[str, Any]) -> dict[str, Any]:
    """The two-factor section of the profile page, for the signed-in user only."""
    user = context["request"].user
    enabled = twofactor.has_two_factor(user)
    return {
        "enabled": enabled,
        "codes_left": twofactor.recovery_codes_left(user) if enabled else 0,
        "csrf_token": context.get("csrf_token"),
    }
