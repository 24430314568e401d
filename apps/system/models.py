from __future__ import annotations

from django.db import models


class Setting(models.Model):
    """One row of the seed's settings table. Keys come from ``registry.SETTINGS``."""

    key = models.CharField(max_length=64, unique=True)
    value = models.JSONField()
    description = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key
