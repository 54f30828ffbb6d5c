"""Mailgun's webhook signature: the HMAC Mailgun documents, within the replay window."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from host.errors import RequestError
from host.feedback.mailgun import MailgunEvents


def test_mailgun_signature_is_hmac_of_timestamp_and_token_within_the_window() -> None:
    key, timestamp, token = (
        "key-0123456789",
        "1770920772",
        "e0b5477167110d68991efc6b9f89f0a11066af27834600e123",
    )
    # as Mailgun documents it: hex HMAC-SHA256, keyed with the signing key, of timestamp + token
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    events = MailgunEvents(key, None, None, None, replay_window=300, clock=lambda: 1770920800)  # type: ignore[arg-type]
    assert events.verify({"timestamp": timestamp, "token": token, "signature": signature}) == (
        timestamp,
        token,
    )
    for bad in (
        {"timestamp": timestamp, "token": token, "signature": signature[:-1] + "0"},
        {"timestamp": timestamp, "token": token + "x", "signature": signature},
        {"timestamp": timestamp, "token": token},
        {},
    ):
        with pytest.raises(RequestError) as refused:
            events.verify(bad)
        assert refused.value.status_code == 403
    late = MailgunEvents(key, None, None, None, replay_window=300, clock=lambda: 1770921100)  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="replay window"):
        late.verify({"timestamp": timestamp, "token": token, "signature": signature})
