"""What the SMTP transactions of one e-mail send: envelope addresses and the serialised message.

The user's own headers (``Message.personal_headers``: their one-click unsubscribe link) go only to the
user. When the message has them and Cc/Bcc copies too, the copies travel in a second transaction whose
data is the same message (same headers, body and Message-ID) without them: a Cc'd person's
"Unsubscribe" must not opt the user out, nor show them the user's token.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from email.utils import formatdate
from typing import NamedTuple

from channels.email_addresses import mailbox, parse_address, valid_mailboxes
from channels.mime import build_body, build_head
from host.errors import InvalidAddress, PermanentChannelError
from host.plugins.channel import Message

__all__ = ["Envelope", "compose"]

_HEADER_NAME = re.compile(r"[!-9;-~]+")
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
# Headers the channel writes itself; letting a caller set them could leak Bcc or break the MIME tree.
_RESERVED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "mime-version", "return-path", "sender"}
)
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
#: the Date header of the current second (formatting one costs about as much as the rest of the head)
_date: tuple[int, str] = (-1, "")


def _now_header() -> str:
    global _date
    second = int(time.time())
    if _date[0] != second:
        _date = (second, formatdate(second, usegmt=True))
    return _date[1]


class Envelope(NamedTuple):
    """What one e-mail sends: envelope addresses and the serialised message (or two, see the module)."""

    sender: str
    recipient: str
    copies: list[str]
    data: bytes
    message_id: str
    #: the copies' data when it differs from the user's: they are then sent in a transaction of their own
    copies_data: bytes | None = None


def _extra_headers(headers: Mapping[str, str], message_id: str) -> tuple[dict[str, str], str]:
    """The caller's headers checked (none the channel writes itself), and the Message-ID to use."""
    extra: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if not _HEADER_NAME.fullmatch(name) or key in _RESERVED_HEADERS or key.startswith("content-"):
            raise PermanentChannelError(f"header {name!r} cannot be set on an e-mail", code="invalid-header")
        if key != "message-id":
            extra[name] = value
        elif _MESSAGE_ID.fullmatch(value):
            message_id = value  # a caller-chosen id keeps retries of one delivery recognisable
        else:
            raise PermanentChannelError(f"invalid Message-ID {value!r}", code="invalid-header")
    return extra, message_id


def compose(message: Message, address: str, default_sender: str | None) -> Envelope:
    """Build the envelope and wire bytes of one message; raises PermanentChannelError if unsendable."""
    raw_sender = message.sender or default_sender
    if not raw_sender:
        raise PermanentChannelError("no e-mail sender is configured", code="no-sender")
    try:
        sender = mailbox(raw_sender)
    except InvalidAddress as exc:
        raise PermanentChannelError(f"invalid sender: {exc}", code="invalid-sender") from None
    seen = {address.lower()}
    cc = valid_mailboxes(message.cc, seen)
    bcc = valid_mailboxes(message.bcc, seen)
    message_id = f"<{secrets.token_hex(16)}@{sender.address.rpartition('@')[2]}>"
    if any(name.lower() == "message-id" for name in message.personal_headers):
        raise PermanentChannelError("a Message-ID cannot be personal", code="invalid-header")
    extra, message_id = _extra_headers(message.headers, message_id)
    personal, _ = _extra_headers(message.personal_headers, message_id)
    headers: list[tuple[str, str | list[str]]] = [("From", [sender.header]), ("To", [address])]
    if cc:
        headers.append(("Cc", [box.header for box in cc]))
    headers += [
        ("Subject", _LINE_BREAKS.sub(" ", message.subject or "").strip()),
        ("Date", _now_header()),
        ("Message-ID", message_id),
    ]
    copies = [box.address for box in (*cc, *bcc)]
    try:
        body = build_body(text=message.text, html=message.html, attachments=message.attachments)
        data = build_head(headers, {**extra, **personal}) + body
        copies_data = build_head(headers, extra) + body if personal and copies else None
    except ValueError as exc:
        raise PermanentChannelError(f"cannot build the e-mail: {exc}", code="invalid-message") from None
    envelope_sender = _envelope_sender(message, sender.address)
    return Envelope(envelope_sender, address, copies, data, message_id, copies_data)


def _envelope_sender(message: Message, visible: str) -> str:
    """``MAIL FROM``: the host's bounce address when it gives one (VERP), else the visible sender's."""
    if not message.envelope_sender:
        return visible
    try:
        return parse_address(message.envelope_sender)
    except InvalidAddress as exc:
        raise PermanentChannelError(f"invalid envelope sender: {exc}", code="invalid-sender") from None
