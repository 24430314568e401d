"""Market data API: assets, candles (bounded, paginated), latest price, imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import TIMEFRAMES, Asset, Candle, MarketImport, timeframe_delta
from .prices import latest_price
from .selectors import series_info, summarize, visible_assets

MAX_CANDLES = 5000
DEFAULT_CANDLES = 500


def resolve_asset(user: Any, symbol: str) -> Asset:
    try:
        return Asset.objects.resolve(user, symbol)
    except Asset.DoesNotExist as exc:
        raise Http404 from exc


class AssetSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    base = serializers.CharField()
    quote = serializers.CharField()
    private = serializers.BooleanField()
    timeframes = serializers.ListField(child=serializers.DictField())
    last_close = serializers.FloatField(allow_null=True)
    last_time = serializers.DateTimeField(allow_null=True)
    change_24h = serializers.FloatField(allow_null=True)


def asset_payload(asset: Asset) -> dict[str, Any]:
    infos = series_info(asset)
    summary = summarize(asset, infos)
    return {
        "symbol": asset.symbol,
        "base": asset.base,
        "quote": asset.quote,
        "private": asset.is_private,
        "timeframes": [
            {
                "timeframe": s.timeframe,
                "count": s.count,
                "first": s.first,
                "last": s.last,
            }
            for s in infos
        ],
        "last_close": summary.last_close,
        "last_time": summary.last_time,
        "change_24h": summary.change_24h,
    }


class AssetList(APIView):
    @extend_schema(responses=AssetSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response([asset_payload(a) for a in visible_assets(request.user)])


class AssetDetail(APIView):
    @extend_schema(responses=AssetSerializer)
    def get(self, request: Request, symbol: str) -> Response:
        return Response(asset_payload(resolve_asset(request.user, symbol)))


def _time_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    parsed = parse_datetime(raw.replace(" ", "+")) if "T" in raw else None
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(
                raw.replace("Z", "+00:00").replace(" ", "+")
            )
        except ValueError as exc:
            raise ValidationError(
                {name: ["Use an ISO 8601 time, e.g. 2019-06-01T00:00:00Z."]}
            ) from exc
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed


class CandleSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    open = serializers.FloatField()
    high = serializers.FloatField()
    low = serializers.FloatField()
    close = serializers.FloatField()
    volume = serializers.FloatField(allow_null=True)


class CandlePageSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    results = CandleSerializer(many=True)


class PriceSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    price = serializers.FloatField(allow_null=True)
    time = serializers.DateTimeField(allow_null=True)
    source = serializers.ChoiceField(choices=["live", "replay", "candle", "none"])
    age_seconds = serializers.FloatField(allow_null=True)
    stale = serializers.BooleanField()
    replay_time = serializers.DateTimeField(allow_null=True)


class UpsertSerializer(serializers.Serializer):
    inserted = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class CandleList(APIView):
    """Candles oldest first, at most ``limit`` (500 by default, 5000 at most).
    ``next`` is the URL of the following page, or null at the end."""

    @extend_schema(
        parameters=[
            OpenApiParameter("timeframe", str, enum=list(TIMEFRAMES), required=True),
            OpenApiParameter("start", str, description="ISO 8601, inclusive"),
            OpenApiParameter("end", str, description="ISO 8601, exclusive"),
            OpenApiParameter("limit", int),
        ],
        responses=CandlePageSerializer,
    )
    def get(self, request: Request, symbol: str) -> Response:
        asset = resolve_asset(request.user, symbol)
        timeframe = request.query_params.get("timeframe", "")
        if timeframe not in TIMEFRAMES:
            raise ValidationError({"timeframe": [f"One of {', '.join(TIMEFRAMES)}."]})
        start, end = _time_param(request, "start"), _time_param(request, "end")
        if start and end and start >= end:
            raise ValidationError({"end": ["end must be after start."]})
        try:
            limit = int(request.query_params.get("limit", DEFAULT_CANDLES))
        except ValueError as exc:
            raise ValidationError({"limit": ["A whole number."]}) from exc
        if not 1 <= limit <= MAX_CANDLES:
            raise ValidationError({"limit": [f"From 1 to {MAX_CANDLES}."]})
        rows = list(
            Candle.objects.series(asset, timeframe, start, end).values_list(
                "open_time", "open", "high", "low", "close", "volume"
            )[: limit + 1]
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_url = None
        if more:
            query = request.query_params.copy()
            # The next page starts just after this page's last bar.
            after = rows[-1][0] + timeframe_delta(timeframe)
            query["start"] = after.isoformat().replace("+00:00", "Z")
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(
            {
                "symbol": asset.symbol,
                "timeframe": timeframe,
                "count": len(rows),
                "next": next_url,
                "results": [
                    {
                        "time": t,
                        "open": o,
                        "high": h,
                        "low": lo,
                        "close": c,
                        "volume": v,
                    }
                    for t, o, h, lo, c, v in rows
                ],
            }
        )


class PriceView(APIView):
    @extend_schema(responses=PriceSerializer)
    def get(self, request: Request, symbol: str) -> Response:
        asset = resolve_asset(request.user, symbol)
        return Response(latest_price(asset).as_dict())


class ImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = MarketImport
        fields = [
            "id",
            "symbol",
            "timeframe",
            "filename",
            "layout",
            "skip_bad_rows",
            "status",
            "rows_read",
            "inserted",
            "updated",
            "unchanged",
            "skipped",
            "error_count",
            "errors",
            "message",
            "first_time",
            "last_time",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    symbol = serializers.CharField(max_length=32)
    timeframe = serializers.ChoiceField(choices=list(TIMEFRAMES))
    asset = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="Column prefix in a wide file (default: the symbol's base).",
    )
    skip_bad_rows = serializers.BooleanField(default=False)
    shared = serializers.BooleanField(
        default=False, help_text="Admins only: write shared market data."
    )

    def validate_file(self, value: Any) -> Any:
        if value.size > settings.MARKET_IMPORT_MAX_BYTES:
            raise serializers.ValidationError(
                f"The file is larger than {settings.MARKET_IMPORT_MAX_BYTES // 1_000_000} MB."
            )
        return value


def run_import(*, user: Any, data: dict[str, Any], request: Any) -> MarketImport:
    """Shared by the page and the API: a trader writes a private asset; an admin
    may write shared market data."""
    shared = bool(data.get("shared")) and user.role == "admin"
    return services.import_candles(
        fileobj=data["file"],
        symbol=data["symbol"],
        timeframe=data["timeframe"],
        actor=user,
        asset_owner=None if shared else user,
        filename=getattr(data["file"], "name", ""),
        wide_asset=(data.get("asset") or None),
        skip_bad_rows=data.get("skip_bad_rows", False),
        request=request,
    )


class ImportList(generics.ListAPIView):
    """Your imports, newest first. POST a file (multipart) to import it."""

    serializer_class = ImportSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self):  # type: ignore[override]
        return MarketImport.objects.filter(owner=self.request.user)

    @extend_schema(
        request=ImportUploadSerializer,
        responses={201: ImportSerializer, 400: ImportSerializer},
    )
    def post(self, request: Request) -> Response:
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            record = run_import(
                user=request.user, data=upload.validated_data, request=request._request
            )
        except services.MarketDataError as exc:
            raise ValidationError({"symbol": [str(exc)]}) from exc
        ok = record.status == MarketImport.Status.SUCCEEDED
        return Response(
            ImportSerializer(record).data,
            status=status.HTTP_201_CREATED if ok else status.HTTP_400_BAD_REQUEST,
        )


class ImportDetail(generics.RetrieveAPIView):
    serializer_class = ImportSerializer

    def get_queryset(self):  # type: ignore[override]
        return MarketImport.objects.filter(owner=self.request.user)


class GapSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    count = serializers.IntegerField()


class GapList(APIView):
    """Missing bars of a stored series, as ranges [start, end)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("timeframe", str, enum=list(TIMEFRAMES), required=True),
            OpenApiParameter("start", str),
            OpenApiParameter("end", str),
        ],
        responses=inline_serializer(
            name="GapReport",
            fields={
                "symbol": serializers.CharField(),
                "timeframe": serializers.CharField(),
                "missing": serializers.IntegerField(),
                "gaps": GapSerializer(many=True),
            },
        ),
    )
    def get(self, request: Request, symbol: str) -> Response:
        asset = resolve_asset(request.user, symbol)
        timeframe = request.query_params.get("timeframe", "")
        if timeframe not in TIMEFRAMES:
            raise ValidationError({"timeframe": [f"One of {', '.join(TIMEFRAMES)}."]})
        start, end = _time_param(request, "start"), _time_param(request, "end")
        if start and end and start >= end:
            raise ValidationError({"end": ["end must be after start."]})
        try:
            gaps = services.gap_report(
                asset=asset, timeframe=timeframe, start=start, end=end
            )
        except ValueError as exc:
            raise ValidationError({"timeframe": [str(exc)]}) from exc
        return Response(
            {
                "symbol": asset.symbol,
                "timeframe": timeframe,
                "missing": sum(g.count for g in gaps),
                "gaps": GapSerializer(gaps, many=True).data,
            }
        )


class ResampleSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=list(TIMEFRAMES))
    target = serializers.ChoiceField(choices=list(TIMEFRAMES))


class ResampleView(APIView):
    """Build higher-timeframe bars from stored ones. Your private assets; admins
    also shared ones."""

    @extend_schema(request=ResampleSerializer, responses=UpsertSerializer)
    def post(self, request: Request, symbol: str) -> Response:
        asset = resolve_asset(request.user, symbol)
        if asset.owner_id is None and request.user.role != "admin":
            raise PermissionDenied("Only admins resample shared market data.")
        data = ResampleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = services.resample_candles(
                asset=asset,
                actor=request.user,
                request=request._request,
                **data.validated_data,
            )
        except services.MarketDataError as exc:
            raise ValidationError({"target": [str(exc)]}) from exc
        return Response(
            {
                "inserted": result.inserted,
                "updated": result.updated,
                "unchanged": result.unchanged,
            }
        )
