"""``{% webhooks_section %}``: the settings page's Webhooks section, rendered with
the same partial (and context) as every htmx answer of apps.webhooks.views."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag(takes_context=True)
def webhooks_section(context: Any) -> SafeString:
    from apps.webhooks.views import section_context

    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return SafeString("")
    return render_to_string(
        "webhooks/_section.html", section_context(request.user), request=request
    )
