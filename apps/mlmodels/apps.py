from __future__ import annotations

from django.apps import AppConfig


class MlmodelsConfig(AppConfig):
    name = "apps.mlmodels"
    label = "mlmodels"
