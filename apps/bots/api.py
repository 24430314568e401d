"""Bots over the API: CRUD, lifecycle, orders (a manual paper order honours an
Idempotency-Key header), fills, position, journal and metrics. Another user's bot
is 404 everywhere; viewers get 403 on writes (the default permissions)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.market.models import TIMEFRAMES
from apps.market.prices import latest_price
from apps.system.schema import paginated

from . import engine, services
from .models import Fill, JournalEntry, Order, TradingBot

RATIO = {"max_digits": 12, "decimal_places": 6, "required": False, "allow_null": True}


class BotSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="asset.symbol", read_only=True)
    cash = serializers.DecimalField(
        source="account.cash", max_digits=28, decimal_places=10, read_only=True
    )
    starting_cash = serializers.DecimalField(
        source="account.starting_cash", max_digits=28, decimal_places=10, read_only=True
    )

    class Meta:
        model = TradingBot
        fields = [
            "id",
            "name",
            "symbol",
            "strategy",
            "params",
            "timeframe",
            "mode",
            "status",
            "pause_reason",
            "fee_bps",
            "slippage_bps",
            "fraction",
            "max_position",
            "stop_loss",
            "take_profit",
            "max_daily_loss",
            "max_drawdown",
            "starting_cash",
            "cash",
            "metrics",
            "last_bar_time",
            "created_at",
            "last_active_at",
        ]
        read_only_fields = fields


class BotInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    symbol = serializers.CharField(max_length=32)
    strategy = serializers.CharField(max_length=40)
    params = serializers.DictField(required=False, default=dict)
    timeframe = serializers.ChoiceField(choices=list(TIMEFRAMES))
    mode = serializers.ChoiceField(choices=TradingBot.Mode.choices, default="paper")
    starting_cash = serializers.DecimalField(
        max_digits=18, decimal_places=2, min_value=Decimal(1), default=Decimal(10_000)
    )
    fee_bps = serializers.DecimalField(min_value=0, max_value=1000, **RATIO)
    slippage_bps = serializers.DecimalField(min_value=0, max_value=1000, **RATIO)
    fraction = serializers.DecimalField(
        min_value=Decimal("0.0001"), max_value=1, **RATIO
    )
    max_position = serializers.DecimalField(min_value=Decimal("0.0001"), **RATIO)
    stop_loss = serializers.DecimalField(
        min_value=Decimal("0.0001"), max_value=Decimal("0.9999"), **RATIO
    )
    take_profit = serializers.DecimalField(min_value=Decimal("0.0001"), **RATIO)
    max_daily_loss = serializers.DecimalField(
        min_value=Decimal("0.0001"), max_value=1, **RATIO
    )
    max_drawdown = serializers.DecimalField(
        min_value=Decimal("0.0001"), max_value=1, **RATIO
    )


def _config(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: data[k] for k in services.CONFIG_FIELDS if k in data}
    for key in ("fee_bps", "slippage_bps", "fraction", "max_position"):
        if out.get(key, 0) is None:
            out.pop(key)
    return out


def _raise(exc: services.BotError) -> None:
    if exc.field:
        raise ValidationError({exc.field: [exc.message]})
    raise ValidationError(exc.message)


def owned_bot(request: Request, pk: int) -> TradingBot:
    bot = (
        TradingBot.objects.owned_by(request.user)
        .select_related("asset", "account", "position")
        .filter(pk=pk)
        .first()
    )
    if bot is None:
        raise Http404
    return bot


class BotList(APIView):
    @extend_schema(operation_id="bots_list", responses=paginated(BotSerializer))
    def get(self, request: Request) -> Response:
        qs = TradingBot.objects.owned_by(request.user).select_related(
            "asset", "account"
        )
        paginator = generics.GenericAPIView.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(BotSerializer(page, many=True).data)

    @extend_schema(request=BotInputSerializer, responses={201: BotSerializer})
    def post(self, request: Request) -> Response:
        s = BotInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        spec = services.BotSpec(
            name=d["name"],
            symbol=d["symbol"],
            strategy=d["strategy"],
            params=d["params"],
            timeframe=d["timeframe"],
            mode=d["mode"],
            starting_cash=d["starting_cash"],
            config=_config(d),
        )
        try:
            bot = services.create_bot(owner=request.user, spec=spec, request=request)
        except services.BotError as exc:
            _raise(exc)
        bot = owned_bot(request, bot.pk)
        return Response(BotSerializer(bot).data, status=status.HTTP_201_CREATED)


class BotDetail(APIView):
    @extend_schema(responses=BotSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(BotSerializer(owned_bot(request, pk)).data)

    @extend_schema(request=BotInputSerializer, responses=BotSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        bot = owned_bot(request, pk)
        s = BotInputSerializer(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        changes = {k: v for k, v in s.validated_data.items() if k in request.data}
        changes.pop("starting_cash", None)
        try:
            services.update_bot(
                bot=bot, actor=request.user, changes=changes, request=request
            )
        except services.BotError as exc:
            _raise(exc)
        return Response(BotSerializer(owned_bot(request, pk)).data)

    @extend_schema(responses={204: OpenApiResponse(description="deleted")})
    def delete(self, request: Request, pk: int) -> Response:
        bot = owned_bot(request, pk)
        try:
            services.delete_bot(bot=bot, actor=request.user, request=request)
        except services.BotError as exc:
            _raise(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BotStopInputSerializer(serializers.Serializer):
    close_position = serializers.BooleanField(required=False, default=False)


class BotAction(APIView):
    action = ""

    @extend_schema(
        request=inline_serializer(
            "BotStopInput", {"close_position": serializers.BooleanField(required=False)}
        ),
        responses=BotSerializer,
    )
    def post(self, request: Request, pk: int) -> Response:
        bot = owned_bot(request, pk)
        fn = {
            "start": services.start_bot,
            "pause": services.pause_bot,
            "reset": services.reset_bot,
        }.get(self.action)
        try:
            if fn is not None:
                fn(bot=bot, actor=request.user, request=request)
            else:
                # Validated, not bool(): a form's "false" is a non-empty string,
                # and a JSON body that is not an object is a 400, not a 500.
                s = BotStopInputSerializer(data=request.data)
                s.is_valid(raise_exception=True)
                close = s.validated_data["close_position"]
                services.stop_bot(
                    bot=bot, actor=request.user, close_position=close, request=request
                )
        except services.BotError as exc:
            _raise(exc)
        return Response(BotSerializer(owned_bot(request, pk)).data)


class OrderSerializer(serializers.ModelSerializer):
    key = serializers.SerializerMethodField()
    side = serializers.CharField(read_only=True, help_text="buy or sell")
    type = serializers.CharField(read_only=True, help_text="market or limit")

    class Meta:
        model = Order
        fields = [
            "id",
            "key",
            "side",
            "type",
            "source",
            "quantity",
            "limit_price",
            "status",
            "reason",
            "bar_time",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_key(self, order: Order) -> str:
        return order.key.removeprefix("manual:")


class OrderInputSerializer(serializers.Serializer):
    # Patterns, not enums: "side" and "type" enums of other apps would collide in
    # the OpenAPI components.
    side = serializers.RegexField(r"^(buy|sell)$", help_text="buy or sell")
    type = serializers.RegexField(
        r"^(market|limit)$", default="market", help_text="market or limit"
    )
    quantity = serializers.DecimalField(
        max_digits=28, decimal_places=12, min_value=Decimal("1e-12")
    )
    limit_price = serializers.DecimalField(
        max_digits=28,
        decimal_places=10,
        min_value=Decimal("1e-10"),
        required=False,
        allow_null=True,
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] == "limit" and attrs.get("limit_price") is None:
            raise ValidationError(
                {"limit_price": ["A limit order needs a limit price."]}
            )
        return attrs


class OrderList(APIView):
    @extend_schema(
        operation_id="bots_orders_list", responses=paginated(OrderSerializer)
    )
    def get(self, request: Request, pk: int) -> Response:
        bot = owned_bot(request, pk)
        paginator = generics.GenericAPIView.pagination_class()
        page = paginator.paginate_queryset(bot.orders.all(), request, view=self)
        return paginator.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        operation_id="bots_orders_create",
        request=OrderInputSerializer,
        responses={201: OrderSerializer, 200: OrderSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        bot = owned_bot(request, pk)
        key = request.headers.get("Idempotency-Key", "").strip() or uuid.uuid4().hex
        if len(key) > 150:
            raise ValidationError({"Idempotency-Key": ["At most 150 characters."]})
        s = OrderInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        try:
            order, created = services.place_manual_order(
                bot=bot,
                actor=request.user,
                key=key,
                side=d["side"],
                quantity=d["quantity"],
                type=d["type"],
                limit_price=d.get("limit_price"),
                request=request,
            )
        except services.BotError as exc:
            _raise(exc)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(OrderSerializer(order).data, status=code)


class FillSerializer(serializers.ModelSerializer):
    side = serializers.CharField(read_only=True, help_text="buy or sell")

    class Meta:
        model = Fill
        fields = [
            "id",
            "order",
            "side",
            "price",
            "market_price",
            "quantity",
            "fee",
            "slippage",
            "realised_pnl",
            "time",
        ]
        read_only_fields = fields


class JournalSerializer(serializers.ModelSerializer):
    class Meta:
        model = JournalEntry
        fields = ["id", "kind", "message", "inputs", "bar_time", "created_at"]
        read_only_fields = fields


class _BotPage(APIView):
    serializer: type[serializers.Serializer] = FillSerializer
    relation = "fills"

    def get(self, request: Request, pk: int) -> Response:
        bot = owned_bot(request, pk)
        paginator = generics.GenericAPIView.pagination_class()
        qs = getattr(bot, self.relation).all()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.serializer(page, many=True).data)


class FillList(_BotPage):
    serializer, relation = FillSerializer, "fills"

    @extend_schema(operation_id="bots_fills_list", responses=paginated(FillSerializer))
    def get(self, request: Request, pk: int) -> Response:
        return super().get(request, pk)


class JournalList(_BotPage):
    serializer, relation = JournalSerializer, "journal"

    @extend_schema(
        operation_id="bots_journal_list", responses=paginated(JournalSerializer)
    )
    def get(self, request: Request, pk: int) -> Response:
        return super().get(request, pk)


def _mark(bot: TradingBot) -> Decimal | None:
    quote = latest_price(bot.asset)
    return None if quote.price is None else Decimal(str(quote.price))


class PositionView(APIView):
    @extend_schema(
        operation_id="bots_position_retrieve",
        responses=inline_serializer(
            "BotPosition",
            {
                "symbol": serializers.CharField(),
                "quantity": serializers.CharField(),
                "average_price": serializers.CharField(),
                "realised_pnl": serializers.CharField(),
                "opened_at": serializers.DateTimeField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request, pk: int) -> Response:
        bot = owned_bot(request, pk)
        p = bot.position
        return Response(
            {
                "symbol": bot.asset.symbol,
                "quantity": str(p.quantity),
                "average_price": str(p.average_price),
                "realised_pnl": str(p.realised_pnl),
                "opened_at": p.opened_at,
            }
        )


class MetricsView(APIView):
    @extend_schema(
        operation_id="bots_metrics_retrieve",
        responses=OpenApiResponse(description="cash, position, equity, profit"),
    )
    def get(self, request: Request, pk: int) -> Response:
        bot = owned_bot(request, pk)
        data = engine.snapshot(bot, _mark(bot))
        data["fills"] = bot.fills.count()
        data["orders"] = bot.orders.count()
        return Response(data)
