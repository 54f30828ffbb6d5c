"""SendGrid's Event Webhook signature, checked as SendGrid makes it: its published test vectors, the replay
window, and the verification key read at start-up.
"""

from __future__ import annotations

from typing import Any

import pytest

from host.errors import ConfigurationError, RequestError
from host.feedback.sendgrid import SendGridEvents, load_public_key

# SendGrid's own test vectors, published with its SDKs' Event Webhook helpers: the signature was made by
# SendGrid's signing code, so verifying it shows the scheme (timestamp + raw body, ECDSA P-256/SHA-256)
SENDGRID = [
    {
        "key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQ"
        "GhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==",
        "payload": b'{"category":"example_payload","event":"test_event","message_id":"message_id"}',
        "signature": "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlx"
        "FDWYNH2j/0=",
        "timestamp": "1588788367",
    },
    {
        "key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw"
        "+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
        "payload": b'[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address",'
        b'"sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",'
        b'"sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",'
        b'"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]\r\n',
        "signature": "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15"
        "TluLtEZtM=",
        "timestamp": "1600112502",
    },
]


def sendgrid(vector: dict[str, Any], now: float) -> SendGridEvents:
    return SendGridEvents(vector["key"], None, replay_window=300, clock=lambda: now)  # type: ignore[arg-type]


@pytest.mark.parametrize("vector", SENDGRID)
def test_sendgrid_published_vectors_verify(vector: dict[str, Any]) -> None:
    events = sendgrid(vector, float(vector["timestamp"]) + 10)
    events.verify(vector["signature"], vector["timestamp"], vector["payload"])
    bad = [
        (vector["signature"], vector["timestamp"], vector["payload"] + b" "),  # the body changed
        (vector["signature"], str(int(vector["timestamp"]) + 1), vector["payload"]),  # the time changed
        (vector["signature"][:-8] + "AAAAAAA=", vector["timestamp"], vector["payload"]),
        ("not base64!", vector["timestamp"], vector["payload"]),
        (None, vector["timestamp"], vector["payload"]),
    ]
    for signature, timestamp, payload in bad:
        with pytest.raises(RequestError) as refused:
            events.verify(signature, timestamp, payload)
        assert refused.value.status_code == 403


def test_sendgrid_refuses_a_signature_outside_the_replay_window() -> None:
    vector = SENDGRID[0]
    with pytest.raises(RequestError, match="replay window") as refused:
        sendgrid(vector, float(vector["timestamp"]) + 301).verify(
            vector["signature"], vector["timestamp"], vector["payload"]
        )
    assert refused.value.status_code == 403


def test_a_sendgrid_key_that_is_not_p256_stops_start_up() -> None:
    for bad in ("not base64", "aGVsbG8=", "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="):
        with pytest.raises(ConfigurationError, match="SENDGRID_WEBHOOK_PUBLIC_KEY"):
            load_public_key(bad)
    assert load_public_key(SENDGRID[0]["key"]).curve.name == "secp256r1"
