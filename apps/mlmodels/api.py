"""Forecasting models over the API. Training and forecasting answer 202 with the
job's URL (the run or the forecast job, which show status and progress).
Another user's model is 404; a viewer gets 403 on writes."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.market.models import TIMEFRAMES

from . import services
from .models import ForecastJob, MLModel, Prediction, TrainingRun


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The model's state does not allow this now."


def _raise(exc: services.ModelRequestError) -> None:
    if exc.status == 409:
        raise Conflict(" ".join(m for ms in exc.fields.values() for m in ms))
    raise ValidationError(exc.fields)


def own_model(request: Request, pk: int) -> MLModel:
    return get_object_or_404(
        MLModel.objects.select_related("trained_run"), pk=pk, owner=request.user
    )


class ModelInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    algorithm = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32)
    timeframe = serializers.ChoiceField(choices=list(TIMEFRAMES))
    params = serializers.DictField(required=False, default=dict)
    horizon = serializers.IntegerField(default=24)
    folds = serializers.IntegerField(default=5)
    max_train_bars = serializers.IntegerField(default=2000)
    level = serializers.FloatField(default=0.95)
    scheduled = serializers.BooleanField(default=False)


class ModelPatchSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    params = serializers.DictField(required=False)
    horizon = serializers.IntegerField(required=False)
    folds = serializers.IntegerField(required=False)
    max_train_bars = serializers.IntegerField(required=False)
    level = serializers.FloatField(required=False)
    scheduled = serializers.BooleanField(required=False)


class ModelSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    owner = serializers.EmailField(source="owner.email", read_only=True)
    trained_run = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    verdict = serializers.SerializerMethodField()

    class Meta:
        model = MLModel
        fields = [
            "id",
            "url",
            "owner",
            "name",
            "algorithm",
            "symbol",
            "timeframe",
            "params",
            "horizon",
            "folds",
            "max_train_bars",
            "level",
            "scheduled",
            "status",
            "skill",
            "verdict",
            "metrics",
            "trained_run",
            "created_at",
            "updated_at",
            "last_trained_at",
        ]
        read_only_fields = fields

    def get_url(self, obj: MLModel) -> str:
        return reverse("api-model", args=[obj.pk])

    def get_verdict(self, obj: MLModel) -> str | None:
        return (obj.metrics or {}).get("verdict")


class RunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "url",
            "model",
            "status",
            "source",
            "algorithm",
            "params",
            "progress",
            "progress_percent",
            "cancel_requested",
            "celery_task_id",
            "data_start",
            "data_end",
            "bars",
            "data_sha256",
            "library_versions",
            "random_seed",
            "metrics",
            "error",
            "artefact_sha256",
            "duration_seconds",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, obj: TrainingRun) -> str:
        return reverse("api-model-run", args=[obj.model_id, obj.pk])


class PredictionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = [
            "id",
            "job",
            "symbol",
            "timestamp",
            "horizon",
            "target_time",
            "value",
            "lower",
            "upper",
            "confidence",
            "features",
            "actual",
            "error",
            "scored_at",
        ]
        read_only_fields = fields


class ForecastJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    predictions = serializers.SerializerMethodField()

    class Meta:
        model = ForecastJob
        fields = [
            "id",
            "url",
            "model",
            "run",
            "status",
            "source",
            "origin_time",
            "market_time",
            "error",
            "created_at",
            "finished_at",
            "predictions",
        ]
        read_only_fields = fields

    def get_url(self, obj: ForecastJob) -> str:
        return reverse("api-model-forecast", args=[obj.model_id, obj.pk])

    def get_predictions(self, obj: ForecastJob) -> list[dict[str, Any]]:
        rows = obj.predictions.order_by("horizon")
        return PredictionSerializer(rows, many=True).data


class CompareSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    windows = serializers.ListField(child=serializers.DictField())


class AlgorithmSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    params = serializers.ListField(child=serializers.DictField())


class ModelList(generics.GenericAPIView):
    serializer_class = ModelSerializer

    def get_queryset(self) -> QuerySet[MLModel]:
        return MLModel.objects.owned_by(self.request.user)

    @extend_schema(operation_id="models_list", responses=ModelSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ModelSerializer(page, many=True).data)

    @extend_schema(request=ModelInputSerializer, responses={201: ModelSerializer})
    def post(self, request: Request) -> Response:
        data = ModelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            model = services.create_model(
                owner=request.user,
                spec=services.ModelSpec(**data.validated_data),
                request=request,
            )
        except services.ModelRequestError as exc:
            _raise(exc)
        return Response(ModelSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetail(APIView):
    @extend_schema(responses=ModelSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ModelSerializer(own_model(request, pk)).data)

    @extend_schema(request=ModelPatchSerializer, responses=ModelSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        model = own_model(request, pk)
        data = ModelPatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        unknown = set(request.data) - set(ModelPatchSerializer().fields)
        if unknown:
            raise ValidationError(
                {name: ["This field cannot be changed."] for name in sorted(unknown)}
            )
        try:
            model = services.update_model(
                model=model,
                actor=request.user,
                changes=dict(data.validated_data),
                request=request,
            )
        except services.ModelRequestError as exc:
            _raise(exc)
        return Response(ModelSerializer(model).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.delete_model(
            model=own_model(request, pk), actor=request.user, request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class Train(APIView):
    @extend_schema(request=None, responses={202: RunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        model = own_model(request, pk)
        try:
            run = services.start_training(
                model=model, actor=request.user, request=request
            )
        except services.ModelRequestError as exc:
            _raise(exc)
        body = RunSerializer(run).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]}
        )


class Cancel(APIView):
    @extend_schema(request=None, responses={202: RunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        model = own_model(request, pk)
        try:
            run = services.cancel_training(
                model=model, actor=request.user, request=request
            )
        except services.ModelRequestError as exc:
            _raise(exc)
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class Predict(APIView):
    @extend_schema(request=None, responses={202: ForecastJobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        model = own_model(request, pk)
        try:
            job = services.request_forecast(
                model=model, actor=request.user, request=request
            )
        except services.ModelRequestError as exc:
            _raise(exc)
        body = ForecastJobSerializer(job).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]}
        )


class RunList(generics.GenericAPIView):
    serializer_class = RunSerializer

    @extend_schema(operation_id="models_runs_list", responses=RunSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        model = own_model(request, pk)
        page = self.paginate_queryset(model.runs.all())
        return self.get_paginated_response(RunSerializer(page, many=True).data)


class RunDetail(APIView):
    @extend_schema(responses=RunSerializer)
    def get(self, request: Request, pk: int, run_id: int) -> Response:
        model = own_model(request, pk)
        run = get_object_or_404(TrainingRun, pk=run_id, model=model)
        return Response(RunSerializer(run).data)


class PredictionList(generics.GenericAPIView):
    """Stored predictions, newest first; ``?scored=true|false`` filters."""

    serializer_class = PredictionSerializer

    @extend_schema(
        operation_id="models_predictions_list",
        parameters=[OpenApiParameter("scored", bool)],
        responses=PredictionSerializer(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        model = own_model(request, pk)
        rows = model.predictions.order_by("-timestamp", "horizon", "-pk")
        scored = request.query_params.get("scored")
        if scored in ("true", "1"):
            rows = rows.scored()
        elif scored in ("false", "0"):
            rows = rows.unscored()
        page = self.paginate_queryset(rows)
        response = self.get_paginated_response(
            PredictionSerializer(page, many=True).data
        )
        response.data["live_accuracy"] = services.live_accuracy(model).as_dict()
        return response


class ForecastDetail(APIView):
    @extend_schema(responses=ForecastJobSerializer)
    def get(self, request: Request, pk: int, job_id: int) -> Response:
        model = own_model(request, pk)
        job = get_object_or_404(ForecastJob, pk=job_id, model=model)
        return Response(ForecastJobSerializer(job).data)


class Compare(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("symbol", str, required=True),
            OpenApiParameter("timeframe", str, enum=list(TIMEFRAMES), required=True),
        ],
        responses=CompareSerializer,
    )
    def get(self, request: Request) -> Response:
        symbol = request.query_params.get("symbol", "")
        timeframe = request.query_params.get("timeframe", "")
        errors = {}
        if not symbol:
            errors["symbol"] = ["Required, e.g. BTC-USD."]
        if timeframe not in TIMEFRAMES:
            errors["timeframe"] = [f"One of {', '.join(TIMEFRAMES)}."]
        if errors:
            raise ValidationError(errors)
        groups = services.leaderboard(
            owner=request.user, symbol=symbol, timeframe=timeframe
        )
        return Response(
            {"symbol": symbol.upper(), "timeframe": timeframe, "windows": groups}
        )


class AlgorithmList(APIView):
    @extend_schema(responses=AlgorithmSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(services.algorithms())
