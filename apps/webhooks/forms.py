from __future__ import annotations

from django import forms

from .models import EVENT_CHOICES


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/aaiti"}),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
    secret = forms.CharField(
        label="Secret (optional)",
        required=False,
        strip=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to have a strong one generated.",
    )
