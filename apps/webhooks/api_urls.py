from __future__ import annotations

from django.urls import path

from . import api

urlpatterns = [
    path("webhooks/", api.EndpointList.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", api.EndpointDetail.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:pk>/deliveries/",
        api.DeliveryList.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery>/",
        api.DeliveryDetail.as_view(),
        name="api-webhook-delivery",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery>/redeliver/",
        api.Redeliver.as_view(),
        name="api-webhook-redeliver",
    ),
    path("webhooks/<int:pk>/test/", api.TestPing.as_view(), name="api-webhook-test"),
]
