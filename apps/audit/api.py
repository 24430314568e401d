from __future__ import annotations

from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated

from .models import AuditLog


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "seq",
            "timestamp",
            "actor_email",
            "action",
            "resource_type",
            "resource_id",
            "details",
            "ip_address",
        ]
        read_only_fields = fields


class AuditLogList(generics.ListAPIView):
    """The caller's own events, newest first; admins see everyone's."""

    serializer_class = AuditLogSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):  # type: ignore[override]
        qs = AuditLog.objects.all()
        user = self.request.user
        if not (user.is_staff and user.role == "admin"):
            qs = qs.for_user(user)
        action = self.request.query_params.get("action")
        if action:
            qs = qs.filter(action=action[:64])
        return qs.order_by("-seq")
