"""Webhooks over the API: endpoints (the secret appears once, in the create
response), their delivery log, a test ping and redelivery. Another user's
endpoint or delivery is 404; viewers get 403 on writes (the default permissions)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.system.schema import paginated

from . import services
from .models import EVENTS, WebhookDelivery, WebhookEndpoint

EVENTS_HELP = "Any of: " + ", ".join(EVENTS)


class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text=EVENTS_HELP
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "created_at"]
        read_only_fields = fields


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret. Shown in this response only; keep it.",
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    # Patterns, not an enum: a shared "events" enum would collide in the schema.
    events = serializers.ListField(
        child=serializers.CharField(max_length=40), help_text=EVENTS_HELP
    )
    secret = serializers.CharField(
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text="Optional: your own secret; otherwise one is generated.",
    )
    active = serializers.BooleanField(required=False, default=True)


class DeliverySerializer(serializers.ModelSerializer):
    status = serializers.CharField(
        read_only=True, help_text="pending, succeeded or failed"
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "duration_ms",
            "redelivery_of",
            "payload",
            "created_at",
            "last_attempt_at",
            "finished_at",
        ]
        read_only_fields = fields


def _raise(exc: services.WebhookError) -> None:
    if exc.field:
        raise ValidationError({exc.field: [exc.message]})
    raise ValidationError(exc.message)


def owned_endpoint(request: Request, pk: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.owned_by(request.user).filter(pk=pk).first()
    if endpoint is None:
        raise Http404
    return endpoint


def _page(view: APIView, request: Request, qs: object, serializer: type) -> Response:
    paginator = generics.GenericAPIView.pagination_class()
    page = paginator.paginate_queryset(qs, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


class EndpointList(APIView):
    @extend_schema(
        operation_id="webhooks_list", responses=paginated(EndpointSerializer)
    )
    def get(self, request: Request) -> Response:
        qs = WebhookEndpoint.objects.owned_by(request.user)
        return _page(self, request, qs, EndpointSerializer)

    @extend_schema(
        operation_id="webhooks_create",
        request=EndpointInputSerializer,
        responses={201: EndpointCreatedSerializer},
    )
    def post(self, request: Request) -> Response:
        s = EndpointInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        try:
            endpoint = services.create_endpoint(
                owner=request.user,
                url=d["url"],
                events=d["events"],
                secret=d.get("secret"),
                active=d["active"],
                request=request,
            )
        except services.WebhookError as exc:
            _raise(exc)
        return Response(
            EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )


class EndpointDetail(APIView):
    @extend_schema(operation_id="webhooks_retrieve", responses=EndpointSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(EndpointSerializer(owned_endpoint(request, pk)).data)

    @extend_schema(
        operation_id="webhooks_partial_update",
        request=EndpointInputSerializer,
        responses=EndpointSerializer,
    )
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = owned_endpoint(request, pk)
        s = EndpointInputSerializer(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        if "secret" in request.data:
            raise ValidationError(
                {"secret": ["The secret cannot be changed; create a new endpoint."]}
            )
        changes = {k: v for k, v in s.validated_data.items() if k in request.data}
        try:
            services.update_endpoint(
                endpoint=endpoint, actor=request.user, changes=changes, request=request
            )
        except services.WebhookError as exc:
            _raise(exc)
        return Response(EndpointSerializer(owned_endpoint(request, pk)).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        responses={204: OpenApiResponse(description="deleted")},
    )
    def delete(self, request: Request, pk: int) -> Response:
        endpoint = owned_endpoint(request, pk)
        services.delete_endpoint(endpoint=endpoint, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryList(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries_list",
        responses=paginated(DeliverySerializer),
    )
    def get(self, request: Request, pk: int) -> Response:
        endpoint = owned_endpoint(request, pk)
        return _page(self, request, endpoint.deliveries.all(), DeliverySerializer)


class DeliveryDetail(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries_retrieve", responses=DeliverySerializer
    )
    def get(self, request: Request, pk: int, delivery: int) -> Response:
        endpoint = owned_endpoint(request, pk)
        found = endpoint.deliveries.filter(pk=delivery).first()
        if found is None:
            raise Http404
        return Response(DeliverySerializer(found).data)


class TestPing(APIView):
    @extend_schema(
        operation_id="webhooks_test",
        request=None,
        responses={202: DeliverySerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        endpoint = owned_endpoint(request, pk)
        delivery = services.send_test(
            endpoint=endpoint, actor=request.user, request=request
        )
        return Response(
            DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED
        )


class Redeliver(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries_redeliver",
        request=None,
        responses={202: DeliverySerializer},
    )
    def post(self, request: Request, pk: int, delivery: int) -> Response:
        endpoint = owned_endpoint(request, pk)
        found = endpoint.deliveries.select_related("endpoint").filter(pk=delivery)
        original = found.first()
        if original is None:
            raise Http404
        try:
            again = services.redeliver(
                delivery=original, actor=request.user, request=request
            )
        except services.WebhookError as exc:
            _raise(exc)
        return Response(DeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)
