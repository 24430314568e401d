"""The body of a delivery and its signature.

The body is the delivery's payload as compact JSON with sorted keys, so the bytes
are the same on every attempt. The signature is ``sha256=`` followed by the hex
HMAC-SHA256 of those exact bytes under the endpoint's secret; a receiver computes
the same over the raw body it read and compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_HEADER = "X-AAITI-Signature"
EVENT_HEADER = "X-AAITI-Event"
DELIVERY_HEADER = "X-AAITI-Delivery"
USER_AGENT = "AAITI-Webhooks/1"


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, body), header or "")


def headers(*, event: str, delivery_id: str, signature: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: signature,
    }
