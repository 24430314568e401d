from __future__ import annotations

from django.urls import path

from . import api

urlpatterns = [
    path("market/assets/", api.AssetList.as_view(), name="api-assets"),
    path("market/assets/<str:symbol>/", api.AssetDetail.as_view(), name="api-asset"),
    path(
        "market/assets/<str:symbol>/candles/",
        api.CandleList.as_view(),
        name="api-candles",
    ),
    path(
        "market/assets/<str:symbol>/price/", api.PriceView.as_view(), name="api-price"
    ),
    path("market/assets/<str:symbol>/gaps/", api.GapList.as_view(), name="api-gaps"),
    path(
        "market/assets/<str:symbol>/resample/",
        api.ResampleView.as_view(),
        name="api-resample",
    ),
    path("market/imports/", api.ImportList.as_view(), name="api-imports"),
    path("market/imports/<int:pk>/", api.ImportDetail.as_view(), name="api-import"),
]
