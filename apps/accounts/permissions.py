from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission


class ViewerReadOnly(BasePermission):
    """Viewers read; only traders and admins change anything."""

    message = "Your role is viewer: you can read but not change anything."

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        if not user or not user.is_authenticated:
            return True  # authentication is another permission's job
        if getattr(view, "allow_viewer_writes", False):
            return True
        return bool(getattr(user, "can_write", False))
