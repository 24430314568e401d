"""API authentication: simplejwt's, plus refusal of access tokens logged out early.

Kept free of view imports: DRF loads this module while it builds APIView itself.
"""

from __future__ import annotations

from django.core.cache import cache
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import Token

DENYLIST_PREFIX = "jwt:denied:"


class DenylistJWTAuthentication(JWTAuthentication):
    def get_validated_token(self, raw_token: bytes) -> Token:
        token = super().get_validated_token(raw_token)
        if cache.get(DENYLIST_PREFIX + str(token.get("jti", ""))):
            raise InvalidToken(
                {"detail": "Token has been revoked.", "code": "token_revoked"}
            )
        return token
