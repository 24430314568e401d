"""RFC 4226 / RFC 6238 one-time codes computed by hand (hmac + struct), independent
of django-otp, so the tests check the library against the RFC and not itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct


def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp(key: bytes, unix_time: float, step: int = 30, digits: int = 6) -> str:
    return hotp(key, int(unix_time) // step, digits)


def key_from_base32(secret: str) -> bytes:
    secret = secret.strip().upper()
    return base64.b32decode(secret + "=" * (-len(secret) % 8))
