"""Standard Webhooks signing (roadworks/push/signing.py), verified with the `standardwebhooks` package."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from roadworks.push import signing


def test_a_signature_verifies_with_the_secret_and_not_with_another():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    body = '{"type":"closure.created"}'
    headers = signing.headers("msg_1", body, [secret])
    assert Webhook(secret).verify(body, headers) == {"type": "closure.created"}
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + " ", headers)
