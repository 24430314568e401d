"""Backtests, sweeps and strategies over the API. Long work answers 202 with the
job's URL; the job resource shows status and progress. Another user's job is 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.market.models import TIMEFRAMES
from apps.system.schema import paginated

from . import services
from .forecast_inputs import DEFAULT_REFIT_EVERY, REFIT_MODES
from .models import Backtest, Sweep
from .services import QUEUE_ERRORS, BacktestRequestError, JobRequest
from .strategies import STRATEGIES
from .sweep import MAX_COMBINATIONS, RANK_METRICS

# The extra inputs of a model-driven strategy (``inputs``), for clients.
MODEL_INPUTS: list[dict[str, Any]] = [
    {
        "name": "model",
        "type": "int",
        "default": None,
        "help": "id of one of your models of the same symbol and timeframe",
    },
    {
        "name": "refit",
        "type": "str",
        "default": "walk_forward",
        "choices": list(REFIT_MODES),
        "help": (
            "walk_forward: refit the model's algorithm every refit_every bars on "
            "the bars before; frozen: its trained artefact, if trained on bars "
            "before the start"
        ),
    },
    {
        "name": "refit_every",
        "type": "int",
        "default": DEFAULT_REFIT_EVERY,
        "min": 1,
        "help": "bars between refits (walk_forward)",
    },
]

JOB_FIELDS = [
    "id",
    "url",
    "status",
    "progress",
    "error",
    "symbol",
    "timeframe",
    "strategy",
    "params",
    "start",
    "end",
    "initial_capital",
    "fee_bps",
    "slippage_bps",
    "fraction",
    "created_at",
    "started_at",
    "finished_at",
]


class JobInputSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)
    timeframe = serializers.ChoiceField(choices=list(TIMEFRAMES))
    strategy = serializers.CharField(max_length=40)
    params = serializers.DictField(required=False, default=dict)
    start = serializers.DateTimeField(
        required=False, allow_null=True, help_text="ISO 8601; default: first bar"
    )
    end = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="ISO 8601, exclusive; default: after the last bar",
    )
    initial_capital = serializers.FloatField(min_value=0.01, default=10_000.0)
    fee_bps = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1000,
        help_text="default: the system setting default_fee_bps",
    )
    slippage_bps = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1000,
        help_text="default: the system setting default_slippage_bps",
    )
    fraction = serializers.FloatField(
        min_value=0.0001,
        max_value=1,
        default=1.0,
        help_text="share of equity per trade",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and start >= end:
            raise ValidationError({"end": ["The end must be after the start."]})
        return attrs


class BacktestInputSerializer(JobInputSerializer):
    stop_loss = serializers.FloatField(
        required=False, allow_null=True, help_text="fraction below entry, e.g. 0.05"
    )
    take_profit = serializers.FloatField(required=False, allow_null=True)
    trailing_stop = serializers.FloatField(required=False, allow_null=True)
    # model_forecast only; checked by the service (model_driven.check_model).
    model = serializers.IntegerField(
        required=False, allow_null=True, help_text=MODEL_INPUTS[0]["help"]
    )
    refit = serializers.CharField(
        required=False, allow_null=True, help_text=MODEL_INPUTS[1]["help"]
    )
    refit_every = serializers.IntegerField(
        required=False, allow_null=True, help_text=MODEL_INPUTS[2]["help"]
    )


class SweepInputSerializer(JobInputSerializer):
    grid = serializers.DictField(
        help_text=(
            '{"fast": [5, 10, 20], "slow": {"start": 30, "stop": 100, "step": 10}}'
            f"; at most {MAX_COMBINATIONS} combinations"
        )
    )
    metric = serializers.ChoiceField(choices=list(RANK_METRICS), default="sharpe")
    in_sample = serializers.FloatField(min_value=0.1, max_value=0.9, default=0.7)


# A plain string in the schema: an enum named "status" would collide with the other
# apps' status enums of other values.
STATUS_HELP = "queued, running, succeeded or failed"


class BacktestSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True, help_text=STATUS_HELP)

    class Meta:
        model = Backtest
        fields = [
            *JOB_FIELDS,
            "stop_loss",
            "take_profit",
            "trailing_stop",
            "bars",
            "final_capital",
            "total_return",
            "trade_count",
            "metrics",
            "model",
        ]
        read_only_fields = fields

    def get_url(self, obj: Backtest) -> str:
        return reverse("api-backtest", args=[obj.pk])


class SweepSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True, help_text=STATUS_HELP)

    class Meta:
        model = Sweep
        fields = [
            *JOB_FIELDS,
            "grid",
            "metric",
            "in_sample",
            "combinations",
            "skipped",
            "chunks_total",
            "chunks_done",
            "bars_in_sample",
            "bars_out_sample",
            "split_time",
        ]
        read_only_fields = fields

    def get_url(self, obj: Sweep) -> str:
        return reverse("api-sweep", args=[obj.pk])


class SweepDetailSerializer(SweepSerializer):
    results = serializers.SerializerMethodField()

    class Meta(SweepSerializer.Meta):
        fields = [*SweepSerializer.Meta.fields, "results"]
        read_only_fields = fields

    def get_results(self, obj: Sweep) -> list[dict[str, Any]]:
        limit = self.context.get("limit")
        return obj.results[:limit] if limit else obj.results


def _job_request(data: dict[str, Any]) -> JobRequest:
    keys = JobRequest.__dataclass_fields__
    return JobRequest(**{k: v for k, v in data.items() if k in keys})


def _invalid(exc: BacktestRequestError) -> ValidationError:
    return ValidationError(exc.fields)


class QueueUnavailable(APIException):
    """503: Redis (job queue, cache, token denylist) is not answering."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "queue_unavailable"
    default_detail = (
        "The job queue is unavailable (Redis is not answering); nothing was "
        "changed. Try again shortly."
    )
    wait = 30  # DRF's handler turns it into Retry-After


class RedisDownAnswers503:
    """Redis down surfaces as a 503 with a JSON error, not a 500, wherever it is
    met: the token denylist while authenticating, the settings cache while
    checking a job, the broker when the job is sent (the job is then failed)."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.QueueUnavailableError):
            exc = QueueUnavailable(
                f"The job queue is unavailable (Redis is not answering): {exc.job} "
                "was stored as failed and nothing was run. Try again shortly."
            )
        elif isinstance(exc, QUEUE_ERRORS):
            exc = QueueUnavailable()
        return super().handle_exception(exc)  # type: ignore[misc]


def _accepted(request: Request, data: dict[str, Any], url: str) -> Response:
    return Response(
        data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": request.build_absolute_uri(url)},
    )


class BacktestList(RedisDownAnswers503, generics.ListAPIView):
    """Your backtests, newest first. POST runs one: 202 with its URL."""

    serializer_class = BacktestSerializer

    def get_queryset(self):  # type: ignore[override]
        return Backtest.objects.owned_by(self.request.user).defer(
            "trades", "equity_chart", "equity_blob"
        )

    @extend_schema(request=BacktestInputSerializer, responses={202: BacktestSerializer})
    def post(self, request: Request) -> Response:
        data = BacktestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            backtest = services.create_backtest(
                owner=request.user,
                req=_job_request(data.validated_data),
                request=request._request,
            )
        except BacktestRequestError as exc:
            raise _invalid(exc) from exc
        body = BacktestSerializer(backtest).data
        return _accepted(request, body, body["url"])


class BacktestDetail(RedisDownAnswers503, generics.RetrieveDestroyAPIView):
    """One backtest: status, progress and, once it succeeded, its metrics."""

    serializer_class = BacktestSerializer

    def get_queryset(self):  # type: ignore[override]
        return Backtest.objects.owned_by(self.request.user).defer(
            "trades", "equity_chart", "equity_blob"
        )

    def perform_destroy(self, instance: Backtest) -> None:
        services.delete_backtest(
            backtest=instance, actor=self.request.user, request=self.request._request
        )


# Built with type(): one of the fields is named "return", a Python keyword.
TradeSerializer = type(
    "TradeSerializer",
    (serializers.Serializer,),
    {
        "entry_time": serializers.DateTimeField(),
        "exit_time": serializers.DateTimeField(),
        "side": serializers.ChoiceField(choices=["long", "short"]),
        "exposure": serializers.FloatField(),
        "entry_price": serializers.FloatField(),
        "exit_price": serializers.FloatField(),
        "quantity": serializers.FloatField(),
        "fees": serializers.FloatField(),
        "profit": serializers.FloatField(help_text="net of both fees"),
        "return": serializers.FloatField(help_text="profit over capital committed"),
        "bars_held": serializers.IntegerField(),
        "exit_reason": serializers.CharField(),
    },
)


def _time(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class BacktestTrades(RedisDownAnswers503, APIView):
    """The trade list in order, paginated (``?page=``, 50 per page)."""

    @extend_schema(responses=paginated(TradeSerializer))
    def get(self, request: Request, pk: int) -> Response:
        backtest = generics.get_object_or_404(
            Backtest.objects.owned_by(request.user).only("pk", "trades", "owner"),
            pk=pk,
        )
        rows = [
            {
                **t,
                "entry_time": _time(t["entry_time"]),
                "exit_time": _time(t["exit_time"]),
                "side": "long" if t["side"] > 0 else "short",
            }
            for t in backtest.trades
        ]
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(TradeSerializer(page, many=True).data)


class EquitySerializer(serializers.Serializer):
    count = serializers.IntegerField()
    initial_capital = serializers.FloatField()
    results = serializers.ListField(child=serializers.DictField())


class BacktestEquity(RedisDownAnswers503, APIView):
    """The full equity curve, one point per bar (marked to market at each close)."""

    @extend_schema(responses=EquitySerializer)
    def get(self, request: Request, pk: int) -> Response:
        backtest = generics.get_object_or_404(
            Backtest.objects.owned_by(request.user), pk=pk
        )
        times, equity = backtest.full_equity()
        return Response(
            {
                "count": int(times.shape[0]),
                "initial_capital": backtest.initial_capital,
                "results": [
                    {"time": _time(int(t)), "equity": float(e)}
                    for t, e in zip(times.tolist(), equity.tolist(), strict=True)
                ],
            }
        )


class StrategyParamSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["int", "float", "bool"])
    default = serializers.JSONField()
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    help = serializers.CharField()


class StrategySerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    inputs = serializers.ListField(child=serializers.CharField())
    params = StrategyParamSerializer(many=True)
    backtestable = serializers.BooleanField()
    model_inputs = serializers.ListField(
        child=serializers.DictField(),
        help_text="top-level POST /api/backtests/ fields a model-driven strategy takes",
    )


class StrategyList(RedisDownAnswers503, APIView):
    """Every strategy with its parameters: type, inclusive range, default. A
    strategy with ``inputs`` (model-driven) trades on a model's predictions: its
    ``model_inputs`` are the extra top-level fields of POST /api/backtests/."""

    @extend_schema(responses=StrategySerializer(many=True))
    def get(self, request: Request) -> Response:
        runnable = services.backtest_strategies()
        return Response(
            [
                {
                    **s.as_dict(),
                    "backtestable": name in runnable,
                    "model_inputs": MODEL_INPUTS if s.inputs else [],
                }
                for name, s in STRATEGIES.items()
            ]
        )


class SweepList(RedisDownAnswers503, generics.ListAPIView):
    """Your sweeps, newest first. POST starts one: 202 with its URL."""

    serializer_class = SweepSerializer

    def get_queryset(self):  # type: ignore[override]
        return Sweep.objects.owned_by(self.request.user).defer("results")

    @extend_schema(request=SweepInputSerializer, responses={202: SweepSerializer})
    def post(self, request: Request) -> Response:
        data = SweepInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            sweep = services.create_sweep(
                owner=request.user,
                req=_job_request(values),
                grid=values["grid"],
                metric=values["metric"],
                in_sample=values["in_sample"],
                request=request._request,
            )
        except BacktestRequestError as exc:
            raise _invalid(exc) from exc
        body = SweepSerializer(sweep).data
        return _accepted(request, body, body["url"])


class SweepDetail(RedisDownAnswers503, generics.RetrieveAPIView):
    """A sweep and its ranked results (best in-sample first; ``?limit=`` for the
    top N), each with its in-sample and out-of-sample figures."""

    serializer_class = SweepDetailSerializer

    def get_queryset(self):  # type: ignore[override]
        return Sweep.objects.owned_by(self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        raw = self.request.query_params.get("limit")
        if raw:
            try:
                context["limit"] = max(1, int(raw))
            except ValueError as exc:
                raise ValidationError({"limit": ["A whole number."]}) from exc
        return context
