from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.http import HttpRequest

from . import services
from .models import User


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("email", "display_name", "role", "is_active")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Admins promote users (role) and deactivate them; both are audited."""

    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = (
        "email",
        "display_name",
        "role",
        "is_active",
        "last_login",
        "date_joined",
    )
    list_filter = ("role", "is_active")
    search_fields = ("email", "display_name")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "display_name")}),
        ("Access", {"fields": ("role", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),
    )
    filter_horizontal = ()

    def save_model(
        self, request: HttpRequest, obj: User, form: Any, change: bool
    ) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        role, is_active = obj.role, obj.is_active
        # Save everything else, then role and active flag through the audited service.
        original = User.objects.get(pk=obj.pk)
        obj.role, obj.is_active = original.role, original.is_active
        super().save_model(request, obj, form, change)
        services.set_role_and_active(
            user=obj,
            role=role,
            is_active=is_active,
            actor=request.user,
            request=request,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deactivate instead: a user's history (audit trail, trades) stays whole.
        return False


from . import admin_twofactor  # noqa: E402, F401  (two-factor devices)
