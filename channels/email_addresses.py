"""E-mail addresses: what the e-mail channel accepts as a recipient, sender, Cc or Bcc.

A mailbox (sender, Cc, Bcc) is read strictly: ``addr``, ``<addr>``, ``Name <addr>`` or ``"Name" <addr>``,
one address, no control character anywhere. ``email.utils.parseaddr`` is lenient:
``"X\r\nBcc: evil@attacker.test" <cc2@example.com>`` read as ``evil@attacker.test``, and
``a@b.c <d@e.f>`` or an unquoted ``Doe, John <j@x.y>`` as two addresses. Such a mailbox is invalid,
which for a Cc or Bcc means ignored (as Mia ignores invalid ones), never half-read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import formataddr, parseaddr
from functools import lru_cache
from typing import NamedTuple

from host.errors import InvalidAddress

__all__ = ["Mailbox", "mailbox", "parse_address", "valid_mailboxes"]

_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
)
#: C0 and C1 controls and the Unicode line separators: never in a mailbox
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: ``name <addr>``: one pair of angle brackets, at the end
_NAME_ADDR = re.compile(r"(?P<name>[^<>]*)<(?P<addr>[^<>]*)>")
#: a quoted display name: no bare quote inside, backslash escapes allowed
_QUOTED = re.compile(r'"(?P<text>(?:[^"\\]|\\.)*)"')
_ESCAPED = re.compile(r"\\(.)")
#: RFC 5322 specials that an unquoted display name cannot hold ('.' is common in names: "J. Doe")
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,"]')


def parse_address(raw: object) -> str:
    """Return ``raw`` stripped if it is a bare, deliverable e-mail address, else raise InvalidAddress.

    A non-ASCII domain is returned in its IDNA (``xn--``) form; a non-ASCII local part is refused,
    since it would need SMTPUTF8 from every server on the way.
    """
    if not isinstance(raw, str):
        raise InvalidAddress(f"an e-mail address must be a string, not {type(raw).__name__}")
    # the common case, a plain ASCII dot-atom address (`_LOCAL_PART@_DOMAIN`): passing these checks proves
    # every check of the thorough path. The local part is checked with str.strip (every character an
    # atom's or a dot, no dot at either end or twice in a row: `_LOCAL_PART`, in about half the regex's
    # time); the domain's pattern backtracks, so it is asked once per domain (a fan-out meets a few
    # domains a million times)
    local, at, domain = raw.rpartition("@")
    if (
        at
        and 0 < len(local) <= 64
        and len(raw) <= 254
        and (domain in _PLAIN_DOMAINS or _plain_domain(domain))
        and not local.strip(_LOCAL_CHARS)
        and local[0] != "."
        and local[-1] != "."
        and ".." not in local
    ):
        return raw
    return _parse_address_thoroughly(raw)


#: the characters of a dot-atom local part: those `_LOCAL_PART` takes, and the dot between its atoms
_LOCAL_CHARS = "".join(char for char in map(chr, range(128)) if _LOCAL_PART.fullmatch(char)) + "."
#: the plain ASCII domains met (`_DOMAIN`), read inline: no call a parse; a refused one is asked again
_PLAIN_DOMAINS: set[str] = set()
_DOMAINS_KEPT = 4096


def _plain_domain(domain: str) -> bool:
    """Whether the domain is a plain ASCII one (``_DOMAIN``); one that is joins ``_PLAIN_DOMAINS``."""
    if _DOMAIN.fullmatch(domain) is None:
        return False
    if len(_PLAIN_DOMAINS) >= _DOMAINS_KEPT:
        _PLAIN_DOMAINS.clear()
    _PLAIN_DOMAINS.add(domain)
    return True


def _parse_address_thoroughly(raw: str) -> str:
    """Every check of ``parse_address``, with the message that names what is wrong."""
    value = raw.strip()
    if not value:
        raise InvalidAddress("the e-mail address is empty")
    if parseaddr(value)[0] or "<" in value:
        raise InvalidAddress(f"{value!r} is not a bare e-mail address (it has a display name)")
    if any(char.isspace() or not char.isprintable() for char in value):
        raise InvalidAddress(f"{value!r} contains whitespace or control characters")
    local, at, domain = value.rpartition("@")
    if not at:
        raise InvalidAddress(f"{value!r} lacks an '@'")
    if not local:
        raise InvalidAddress(f"{value!r} lacks a local part before '@'")
    if not domain:
        raise InvalidAddress(f"{value!r} lacks a domain after '@'")
    if not local.isascii():
        raise InvalidAddress(f"{value!r} has a non-ASCII local part, which is not supported")
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise InvalidAddress(f"{value!r} has an invalid local part {local!r}")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidAddress(f"{value!r} has an invalid domain: {exc}") from None
    if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
        raise InvalidAddress(f"{value!r} has an invalid domain {domain!r}")
    address = f"{local}@{domain}"
    if len(address) > 254:
        raise InvalidAddress(f"{value!r} is longer than 254 characters")
    return address


class Mailbox(NamedTuple):
    """One parsed mailbox: its header form and its envelope address."""

    header: str  # wire form for From/Cc, display name RFC 2047-encoded
    address: str  # envelope form


@lru_cache(maxsize=1024)
def mailbox(raw: str) -> Mailbox:
    """Parse ``addr``, ``<addr>``, ``Name <addr>`` or ``"Name" <addr>`` strictly; raises InvalidAddress."""
    if not isinstance(raw, str):
        raise InvalidAddress(f"a mailbox must be a string, not {type(raw).__name__}")
    if _CONTROL.search(raw):
        raise InvalidAddress(f"{raw!r} contains a line break or another control character")
    found = _NAME_ADDR.fullmatch(raw.strip())
    if found is None:
        address = parse_address(raw.strip())  # a bare address, or nothing valid
        return Mailbox(address, address)
    address = parse_address(found["addr"].strip())
    phrase = found["name"].strip()
    quoted = _QUOTED.fullmatch(phrase)
    if quoted is not None:
        name = _ESCAPED.sub(r"\1", quoted["text"])
    elif _SPECIALS.search(phrase):
        raise InvalidAddress(f"{raw!r} has a display name with ',', '@', '<' ... that is not quoted")
    else:
        name = phrase
    if "@" in name:
        raise InvalidAddress(f"{raw!r} has a display name that holds an address")
    return Mailbox(formataddr((name, address), charset="utf-8") if name else address, address)


def valid_mailboxes(raws: Iterable[str], exclude: set[str]) -> list[Mailbox]:
    """Keep the valid, not yet seen mailboxes; invalid Cc/Bcc addresses are dropped as the spec says."""
    kept = []
    for raw in raws:
        try:
            parsed = mailbox(raw)
        except InvalidAddress:
            continue
        if parsed.address.lower() not in exclude:
            exclude.add(parsed.address.lower())
            kept.append(parsed)
    return kept
