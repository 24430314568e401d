"""JWT endpoints under /api/auth/ and the caller's profile at /api/me/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.audit.services import record_event

from . import services, twofactor
from .authentication import DENYLIST_PREFIX
from .models import User, normalize_email
from .ratelimit import (
    check_login_allowed,
    check_otp_allowed,
    record_login_failure,
    record_otp_failure,
)


class SecondFactorFailed(AuthenticationFailed):
    """The password was right; the second factor was missing or wrong (401)."""


class TokenObtainSerializer(jwt_serializers.TokenObtainPairSerializer):
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=32,
        help_text=(
            "Required when the account has two-factor sign-in on: the current "
            "6-digit code of its authenticator app, or one unused recovery code."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        attrs[self.username_field] = normalize_email(attrs.get(self.username_field, ""))
        code = attrs.pop("otp", "") or ""
        data = super().validate(attrs)
        if twofactor.has_two_factor(self.user):
            self._check_second_factor(code)
        return data

    def _check_second_factor(self, code: str) -> None:
        if not code:
            raise SecondFactorFailed(
                "This account has two-factor sign-in on: send the current code "
                "of its authenticator app (or a recovery code) as 'otp'.",
                "otp_required",
            )
        request = self.context["request"]
        limited = check_otp_allowed(request._request, self.user.pk)
        if limited:
            raise Throttled(wait=limited.retry_after)
        result = twofactor.verify_second_factor(user=self.user, code=code)
        if result.device is None:
            message = "The two-factor code is not correct, or was already used."
            if result.locked_for:
                message = (
                    "Too many wrong two-factor codes. Wait "
                    f"{result.locked_for} seconds, then send the current code."
                )
            raise SecondFactorFailed(message, "otp_invalid")


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except User.DoesNotExist as exc:
            raise AuthenticationFailed(
                "No active account found for the given token.", "no_active_account"
            ) from exc


TOKEN_ERROR = inline_serializer(
    "AuthError",
    fields={
        "error": inline_serializer(
            "AuthErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(),
            },
        )
    },
)


class TokenObtainView(jwt_views.TokenObtainPairView):
    """POST email and password (and ``otp`` when the account has two-factor
    sign-in on), get an access and a refresh token. Rate-limited."""

    @extend_schema(
        request=TokenObtainSerializer,
        responses={
            200: jwt_serializers.TokenObtainPairSerializer,
            401: OpenApiResponse(
                response=TOKEN_ERROR,
                description=(
                    "Wrong email or password (`no_active_account`), or, for an "
                    "account with two-factor sign-in on, no `otp` (`otp_required`) "
                    "or a wrong or already used one (`otp_invalid`)."
                ),
                examples=[
                    OpenApiExample(
                        "otp_required",
                        value={
                            "error": {
                                "code": "otp_required",
                                "message": "This account has two-factor sign-in "
                                "on: send the current code of its authenticator "
                                "app (or a recovery code) as 'otp'.",
                                "fields": {},
                            }
                        },
                    )
                ],
            ),
            429: OpenApiResponse(
                response=TOKEN_ERROR,
                description="Too many attempts (password or two-factor code).",
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        email = (
            str(request.data.get("email", ""))[:254]
            if hasattr(request.data, "get")
            else ""
        )
        limited = check_login_allowed(request._request, email)
        if limited:
            raise Throttled(wait=limited.retry_after)
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except SecondFactorFailed as exc:
            if exc.get_codes() == "otp_invalid":
                record_otp_failure(request._request, serializer.user.pk)
            record_event(
                action="auth.token_2fa_failed",
                user=serializer.user,
                request=request._request,
                resource=serializer.user,
                details={"reason": str(exc.get_codes())},
            )
            raise
        except (TokenError, AuthenticationFailed) as exc:
            record_login_failure(request._request, email)
            record_event(
                action="auth.token_failed",
                request=request._request,
                details={"email": normalize_email(email)},
            )
            if isinstance(exc, TokenError):
                raise InvalidToken(exc.args[0]) from exc
            raise
        user = serializer.user
        record_event(
            action="auth.token_obtained",
            user=user,
            request=request._request,
            resource=user,
        )
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class LogoutView(APIView):
    """Blacklist the refresh token; the access token in the header stops working too."""

    permission_classes = [IsAuthenticated]
    allow_viewer_writes = True

    @extend_schema(request=LogoutSerializer, responses={205: None})
    def post(self, request: Request) -> Response:
        data = LogoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            refresh = RefreshToken(data.validated_data["refresh"])
        except TokenError as exc:
            raise InvalidToken(str(exc)) from exc
        if str(refresh.get("user_id")) != str(request.user.pk):
            raise InvalidToken("This refresh token belongs to another user.")
        refresh.blacklist()
        if isinstance(request.auth, AccessToken):
            remaining = int(request.auth["exp"]) - int(refresh.current_time.timestamp())
            cache.set(DENYLIST_PREFIX + str(request.auth["jti"]), 1, max(1, remaining))
        record_event(
            action="auth.logout",
            user=request.user,
            request=request._request,
            resource=request.user,
            details={"via": "api"},
        )
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "display_name", "role", "last_login", "date_joined"]
        read_only_fields = ["id", "email", "role", "last_login", "date_joined"]


class MeView(APIView):
    permission_classes = [IsAuthenticated]
    allow_viewer_writes = True

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeSerializer, responses=MeSerializer)
    def patch(self, request: Request) -> Response:
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "display_name" in serializer.validated_data:
            services.update_profile(
                user=request.user,
                display_name=serializer.validated_data["display_name"],
                request=request._request,
            )
        return Response(MeSerializer(request.user).data)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(trim_whitespace=False)
    new_password = serializers.CharField(trim_whitespace=False)


class PasswordChangeView(APIView):
    """Change the password; every token of the caller is revoked."""

    permission_classes = [IsAuthenticated]
    allow_viewer_writes = True

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not request.user.check_password(data.validated_data["old_password"]):
            raise serializers.ValidationError(
                {"old_password": ["The current password is not correct."]}
            )
        try:
            password_validation.validate_password(
                data.validated_data["new_password"], request.user
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                {"new_password": list(exc.messages)}
            ) from exc
        services.change_password(
            user=request.user,
            new_password=data.validated_data["new_password"],
            request=request._request,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PublicTokenRefreshView(jwt_views.TokenRefreshView):
    permission_classes = [AllowAny]


class PublicTokenVerifyView(jwt_views.TokenVerifyView):
    permission_classes = [AllowAny]
