"""SNS's signatures: the text it signs, and the trust rules for the URLs of its signing certificates."""

from __future__ import annotations

import pytest

from host.errors import RequestError
from host.feedback.sns import SnsVerifier, string_to_sign
from host.settings import SesConfig


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
