from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from .models import Setting
from .registry import SETTINGS, SettingValueError
from .services import update_setting


class SettingForm(forms.ModelForm):
    key = forms.ChoiceField(choices=[(k, k) for k in SETTINGS])
    value = forms.CharField(
        help_text="true/false for switches, a number for limits, text otherwise."
    )

    class Meta:
        model = Setting
        fields = ["key", "value"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["key"].disabled = True
            self.initial["value"] = self.instance.value

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if not self.instance.pk and Setting.objects.filter(key=key).exists():
            raise forms.ValidationError("This setting is already stored; edit it.")
        return key

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        key = data.get("key") or self.instance.key
        if key and "value" in data:
            try:
                data["value"] = SETTINGS[key].parse(data["value"])
            except SettingValueError as exc:
                self.add_error("value", str(exc))
        return data


@admin.register(Setting)
class SettingAdmin(admin.ModelAdmin):
    form = SettingForm
    list_display = ("key", "value", "updated_at", "description")
    readonly_fields = ("description", "updated_at")
    search_fields = ("key",)

    def save_model(
        self, request: HttpRequest, obj: Setting, form: Any, change: bool
    ) -> None:
        # Through the service, so the change is validated, audited and the cache cleared.
        saved = update_setting(
            key=form.cleaned_data.get("key") or obj.key,
            value=form.cleaned_data["value"],
            actor=request.user,
            request=request,
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
