"""Mailboxes read strictly: one address, a display name quoted when it must be, no control characters."""

from __future__ import annotations

import pytest

from channels.email_addresses import mailbox
from host.errors import InvalidAddress


@pytest.mark.parametrize(
    ("raw", "header", "address"),
    [
        ("bob@example.com", "bob@example.com", "bob@example.com"),
        ("<bob@example.com>", "bob@example.com", "bob@example.com"),
        ("Carol <carol@example.com>", "Carol <carol@example.com>", "carol@example.com"),
        ('"Doe, John" <j@example.com>', '"Doe, John" <j@example.com>', "j@example.com"),
        ("J. Doe <j@example.com>", '"J. Doe" <j@example.com>', "j@example.com"),
        ("Zoë <zoe@example.com>", "=?utf-8?q?Zo=C3=AB?= <zoe@example.com>", "zoe@example.com"),
    ],
)
def test_a_mailbox_is_one_address_with_an_optional_name(raw: str, header: str, address: str) -> None:
    assert mailbox(raw) == (header, address)


@pytest.mark.parametrize(
    "raw",
    [
        '"X\r\nBcc: evil@attacker.test" <cc2@example.com>',
        "Carol\n <carol@example.com>",
        "carol@example.com\r\n",
        "Carol\u2028 <carol@example.com>",
        "a@example.com, c@example.com",
        "Name <a@example.com>, c@example.com",
        "a@example.com <c@example.com>",
        '"a@example.com" <c@example.com>',
        "Doe, John <j@example.com>",
        "Bob <bob@example.com",
        "<a@example.com> <b@example.com>",
    ],
)
def test_a_second_address_or_a_control_character_makes_it_invalid(raw: str) -> None:
    with pytest.raises(InvalidAddress):
        mailbox(raw)
