from __future__ import annotations

from django.urls import path

from . import api

urlpatterns = [
    path("backtests/", api.BacktestList.as_view(), name="api-backtests"),
    path("backtests/<int:pk>/", api.BacktestDetail.as_view(), name="api-backtest"),
    path(
        "backtests/<int:pk>/trades/",
        api.BacktestTrades.as_view(),
        name="api-backtest-trades",
    ),
    path(
        "backtests/<int:pk>/equity/",
        api.BacktestEquity.as_view(),
        name="api-backtest-equity",
    ),
    path("strategies/", api.StrategyList.as_view(), name="api-strategies"),
    path("sweeps/", api.SweepList.as_view(), name="api-sweeps"),
    path("sweeps/<int:pk>/", api.SweepDetail.as_view(), name="api-sweep"),
]
