"""The providers' signatures, checked as the providers make them: SendGrid's published test vectors, SNS's
signed text, Mailgun's HMAC, and the trust rules for SNS certificate URLs.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from host.errors import ConfigurationError, RequestError
from host.feedback.mailgun import MailgunEvents
from host.feedback.sendgrid import SendGridEvents, load_public_key
from host.feedback.sns import SnsVerifier, string_to_sign
from host.settings import SesConfig

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


def test_sns_signs_its_keys_in_a_fixed_order() -> None:
    notification = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:t",
        "Message": "hello",
        "Timestamp": "2026-12-01T00:00:00.000Z",
        "Subject": "s",
        "UnsubscribeURL": "not signed",
    }
    assert string_to_sign(notification) == (
        "Message\nhello\nMessageId\nm-1\nSubject\ns\nTimestamp\n2026-12-01T00:00:00.000Z\nTopicArn\narn:t\n"
        "Type\nNotification\n"
    )
    del notification["Subject"]  # optional in a notification
    assert "Subject" not in string_to_sign(notification)
    confirmation = {"Type": "SubscriptionConfirmation", "MessageId": "m", "Message": "x", "Timestamp": "t"}
    with pytest.raises(RequestError, match="SubscribeURL: required"):
        string_to_sign(confirmation)


def test_only_certificate_urls_of_the_trusted_hosts_are_fetched() -> None:
    verifier = SnsVerifier(SesConfig())
    good = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
    assert verifier.trusted_url(good, "SigningCertURL", pem=True) == good
    for bad in (
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",  # not https
        "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.amazonaws.com/cert.pem",  # `*` is exactly one label
        "https://sns.a.b.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com/cert.txt",  # not a certificate
        "https://user@sns.eu-west-1.amazonaws.com@evil.example/cert.pem",
    ):
        with pytest.raises(RequestError) as refused:
            verifier.trusted_url(bad, "SigningCertURL", pem=True)
        assert refused.value.status_code == 403, bad
    local = SnsVerifier(SesConfig(certificate_hosts=["127.0.0.1:8443"]))
    assert local.trusted_url("http://127.0.0.1:8443/c.pem", "SigningCertURL", pem=True)  # loopback: a fake
    with pytest.raises(RequestError):
        local.trusted_url("http://127.0.0.1:9999/c.pem", "SigningCertURL", pem=True)
