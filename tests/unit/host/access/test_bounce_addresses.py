"""VERP addresses: each names its delivery, signed; altered, forged, foreign or long ones are told apart."""

from __future__ import annotations

import pytest
from bson import ObjectId

from host.access.bounce_addresses import BounceAddresses, InvalidBounceAddress

KEY = "k" * 32
DISPATCH = str(ObjectId())


@pytest.fixture
def addresses() -> BounceAddresses:
    return BounceAddresses(KEY, "Bounces.Example.ORG")


@pytest.mark.parametrize(
    "user_id",
    [
        str(ObjectId()),  # lowercase hex: packed two digits a byte
        "0123456789abcdef0123456789abcdef",  # a UUID without dashes, 16 bytes packed
        "RSSMRA85T10A562S",  # an Italian fiscal code, 16 bytes of UTF-8
        "ada@example.org",  # 15 bytes
        "é",
        "0012",  # hex with leading zeros survives the packing
    ],
)
def test_a_delivery_id_round_trips_and_fits_a_local_part(addresses: BounceAddresses, user_id: str) -> None:
    delivery_id = f"{DISPATCH}:email:{user_id}"
    sender = addresses.envelope_sender(delivery_id)
    local, _, domain = sender.partition("@")
    assert domain == "bounces.example.org" and local.startswith("bounces+")
    assert len(local) <= 64  # RFC 5321 4.5.3.1.1
    assert local == local.lower()  # survives systems that fold the case of local parts
    assert addresses.read(sender) == delivery_id
    assert addresses.read(sender.upper()) == delivery_id
    assert addresses.read(f"<{sender}>") == delivery_id


def test_ids_that_do_not_fit_fall_back_to_the_plain_address(addresses: BounceAddresses) -> None:
    for delivery_id in (
        f"{DISPATCH}:email:{'x' * 17}",  # 17 bytes: the token would pass 64 octets
        f"{DISPATCH}:email:{'ab' * 17}",  # 17 packed bytes
        "not-an-object-id:email:u1",
        f"{DISPATCH}:sms:u1",
    ):
        assert addresses.envelope_sender(delivery_id) == "bounces@bounces.example.org"


def _flip(sender: str, position: int) -> str:
    local, _, domain = sender.partition("@")
    letter = "a" if local[position] != "a" else "b"
    return f"{local[:position]}{letter}{local[position + 1 :]}@{domain}"


def test_altered_forged_and_foreign_addresses_are_refused(addresses: BounceAddresses) -> None:
    sender = addresses.envelope_sender(f"{DISPATCH}:email:u1")
    local = sender.partition("@")[0]
    forged = BounceAddresses("another key of 32 characters....", "bounces.example.org")
    bad = {
        _flip(sender, len("bounces+") + 3): "signature does not match",  # the delivery id changed
        _flip(sender, len(local) - 1): "signature does not match",  # the signature changed
        forged.envelope_sender(f"{DISPATCH}:email:u1"): "signature does not match",  # another key
        sender.replace("@bounces.example.org", "@elsewhere.example"): "not a VERP address",
        sender.replace("bounces+", "returns+"): "not a VERP address",
        "bounces@bounces.example.org": "not a VERP address",
        "bounces+short@bounces.example.org": "malformed token",
        "bounces+" + "x" * 40 + "@bounces.example.org": "malformed token",
    }
    for address, why in bad.items():
        with pytest.raises(InvalidBounceAddress, match=why):
            addresses.read(address)


def test_only_the_bounce_domain_is_ours(addresses: BounceAddresses) -> None:
    assert addresses.is_ours("fbl@BOUNCES.example.org")
    assert not addresses.is_ours("fbl@example.org")


@pytest.mark.parametrize(
    ("user_id", "sender"),
    [
        (
            "65a1b2c3d4e5f60718293a4b",
            "bounces+hmwq3fq6u4x3aogbjhjgglinsypkol5qhdautusyf6kseqcbeo@bounces.example.org",
        ),
        (
            "RSSMRA85T10A562S",
            "bounces+umwq3fq6u4x3aogbjhjgfeu2tjvjecobvkqytaqjvgyzfgqzazwm7cn2@bounces.example.org",
        ),
        ("é", "bounces+umwq3fq6u4x3aogbjhjgmhkitdc7vf2ug5@bounces.example.org"),
    ],
)
def test_tokens_are_spelled_as_they_were_when_issued(
    addresses: BounceAddresses, user_id: str, sender: str
) -> None:
    # made by the first version (the standard library's base32): bounces of mail sent before an upgrade
    # must still map back, so the encoding may get faster but never different
    delivery_id = f"65a1b2c3d4e5f60718293a4c:email:{user_id}"
    assert addresses.envelope_sender(delivery_id) == sender
    assert addresses.read(sender) == delivery_id
