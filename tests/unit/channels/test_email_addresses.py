"""E-mail addresses as the channel accepts them: bare, canonical (IDNA domains), refused with the reason;
mailboxes (sender, Cc, Bcc) read strictly: one address, a name quoted when it must be, no control
character."""

from __future__ import annotations

import random

import pytest

from channels.email_addresses import mailbox, parse_address
from host.errors import InvalidAddress


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  first.last+tag@mail.example.co.uk \n", "first.last+tag@mail.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("user@bücher.example", "user@xn--bcher-kva.example"),
    ],
)
def test_parse_address_accepts(raw: str, expected: str) -> None:
    assert parse_address(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (None, "string"),
        (42, "string"),
        ("", "empty"),
        ("   ", "empty"),
        ("alice", "lacks an '@'"),
        ("@example.com", "lacks a local part"),
        ("alice@", "lacks a domain"),
        ("alice@localhost", "domain"),
        ("alice@exa_mple.com", "domain"),
        ("al ice@example.com", "whitespace"),
        ("Alice <alice@example.com>", "bare"),
        ("alice..b@example.com", "local part"),
        (".alice@example.com", "local part"),
        ("zoë@example.com", "non-ASCII"),
        ("a@b@example.com", "local part"),
        ("alice@example.com\r\nBcc: x@y.z", "whitespace"),
        ('"a b"@example.com', "whitespace"),
        ('"ab"@example.com', "local part"),
        ("alice@[127.0.0.1]", "domain"),
    ],
)
def test_parse_address_refuses(raw: object, problem: str) -> None:
    with pytest.raises(InvalidAddress, match=problem):
        parse_address(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "a!#$%&'*+/=?^_`{|}~-z@example.com",
        "x" * 64 + "@example.com",
        "a@" + "d" * 63 + ".xn--bcher-kva",
        "a@" + ".".join(["d" * 60] * 4)[: 254 - 6] + ".io",
    ],
)
def test_parse_address_plain_ascii_is_returned_as_is(raw: str) -> None:
    assert len(raw) <= 254
    assert parse_address(raw) == raw


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("x" * 65 + "@example.com", "local part"),
        ("a@" + ".".join(["d" * 60] * 5)[:250] + ".io", "longer than 254|domain"),
        ("alice@example.com\n", None),  # stripped by the thorough path, not matched by the fast one
        ("alice@example.c", "domain"),
        ("alice@-example.com", "domain"),
    ],
)
def test_parse_address_edges_of_the_fast_path(raw: str, problem: str | None) -> None:
    if problem is None:
        assert parse_address(raw) == raw.strip()
    else:
        with pytest.raises(InvalidAddress, match=problem):
            parse_address(raw)


def _both_paths(raw: str) -> tuple[str | None, str | None]:
    """(parse_address's answer, the thorough path's), None for a refusal."""
    from channels.email_addresses import _parse_address_thoroughly

    answers: list[str | None] = []
    for parse in (parse_address, _parse_address_thoroughly):
        try:
            answers.append(parse(raw))
        except InvalidAddress:
            answers.append(None)
    return answers[0], answers[1]


def test_parse_address_fast_and_thorough_paths_agree() -> None:
    rng = random.Random(7)
    alphabet = "abcXYZ019.-_+'!#~|@@<> \"ëü\n(;\\"
    tried = 0
    for _ in range(5000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) + rng.choice(
            ["@example.com", "@ex.io", "", ".com", "@bücher.example"]
        )
        got, expected = _both_paths(raw)
        assert got == expected, raw
        tried += expected is not None
    assert tried > 100  # the sample reaches the accepting side too


def test_parse_address_fast_path_knows_every_ascii_character_as_the_thorough_path_does() -> None:
    for code in range(128):
        for raw in (f"a{chr(code)}b@example.com", f"{chr(code)}@example.com", f"a{chr(code)}@example.com"):
            got, expected = _both_paths(raw)
            assert got == expected, raw


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
