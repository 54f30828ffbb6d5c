"""VAPID application server keys in the forms the push channel and subscriptions use, and a channel on one."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.push import PushChannel, PushConfig
from host.plugins.channel import ChannelContext
from tests.fakes.push import b64url

__all__ = ["INTENT", "SUBJECT", "VapidKey", "make_channel"]

SUBJECT = "mailto:ops@tidings.example"
INTENT = "eu.example.OPEN"


class VapidKey:
    """An application server key pair in the forms VAPID configuration and subscriptions use."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.private = b64url(self.key.private_numbers().private_value.to_bytes(32, "big"))
        self.public = b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        self.pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()


def make_channel(private_key: str, **config: Any) -> PushChannel:
    return PushChannel(
        PushConfig(private_key=private_key, subject=SUBJECT, timeout=5.0, **config),
        ChannelContext(android_intent_action=INTENT),
    )
