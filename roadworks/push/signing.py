"""Standard Webhooks signatures (the `standardwebhooks` package): secrets in the whsec_ form, headers per message."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, base64, with the whsec_ prefix."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def headers(message_id: str, body: str, keys: list[str], at: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers; one v1 signature per key (two while a rotated secret overlaps)."""
    at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    signatures = " ".join(_signer(key).sign(message_id, at, body) for key in keys)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signatures}


@lru_cache(maxsize=4096)
def _signer(key: str) -> Webhook:
    return Webhook(key)  # decodes the key once, not per message
