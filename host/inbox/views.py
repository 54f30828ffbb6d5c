"""What the inbox shows of a capture: its fields and, for an e-mail, what a mail client reads in its MIME.

The e-mail is read back from the exact bytes that were captured with the standard library's parser
(``email.policy.default``): the headers as they were written (Bcc recipients appear only in the
envelope, ``request.rcptTo``, as on the wire), the text and HTML bodies, the attachments with their
names, types and sizes. The JSON API (``GET /dev/inbox``) and the console show the same views.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

import msgspec

from host.errors import NotFound

__all__ = ["AttachmentView", "CaptureView", "EmailView", "attachment", "capture_view", "read_email"]


class AttachmentView(msgspec.Struct, rename="camel", kw_only=True):
    """One attachment of a captured e-mail; ``index`` addresses it for download."""

    index: int
    filename: str
    content_type: str
    size: int


class EmailView(msgspec.Struct, rename="camel", kw_only=True):
    """A captured e-mail as a mail client reads it."""

    subject: str
    sender: str
    to: list[str]
    cc: list[str]
    date: str
    message_id: str
    #: every header in order, as written (decoded from RFC 2047)
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    attachments: list[AttachmentView]


class CaptureView(msgspec.Struct, rename="camel", kw_only=True):
    """One capture: where it was going, what the provider would have received, and when."""

    id: str
    channel: str
    to: str
    provider: str
    summary: str
    captured_at: datetime
    #: bytes of the raw message (the MIME of an e-mail; 0 when there are none)
    size: int
    #: the request as the provider would have received it (SMTP envelope, Twilio form, push payload)
    request: dict[str, Any]
    #: the e-mail read back from its MIME (in the view of one capture, not in lists)
    email: EmailView | None = None


def _parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def _body(message: EmailMessage, kind: str) -> str | None:
    part = message.get_body(preferencelist=(kind,))
    if part is None or part.get_content_type() != f"text/{kind}":
        return None
    return str(part.get_content())


def _attachments(message: EmailMessage) -> list[Message]:
    return list(message.iter_attachments())


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def read_email(raw: bytes) -> EmailView:
    """The headers, bodies and attachments of a captured e-mail."""
    return _email_view(_parse(raw))


def _email_view(message: EmailMessage) -> EmailView:
    attachments = [
        AttachmentView(
            index=index,
            filename=part.get_filename() or f"attachment-{index + 1}",
            content_type=part.get_content_type(),
            size=len(_payload(part)),
        )
        for index, part in enumerate(_attachments(message))
    ]

    def addresses(name: str) -> list[str]:
        value = message.get(name)
        return [str(address) for address in value.addresses] if value is not None else []

    return EmailView(
        subject=str(message.get("Subject", "")),
        sender=str(message.get("From", "")),
        to=addresses("To"),
        cc=addresses("Cc"),
        date=str(message.get("Date", "")),
        message_id=str(message.get("Message-ID", "")),
        headers=[(name, str(value)) for name, value in message.items()],
        text=_body(message, "plain"),
        html=_body(message, "html"),
        attachments=attachments,
    )


def attachment(raw: bytes, index: int) -> tuple[AttachmentView, bytes]:
    """One attachment of a captured e-mail and its decoded bytes; NotFound if it has no such one."""
    message = _parse(raw)
    view = _email_view(message)
    parts = _attachments(message)
    if not 0 <= index < len(parts):
        raise NotFound(f"index: the e-mail has {len(parts)} attachment(s)")
    return view.attachments[index], _payload(parts[index])


def capture_view(doc: Mapping[str, Any], raw: bytes | None = None) -> CaptureView:
    """The view of a stored capture; with the raw bytes of an e-mail, what they read as."""
    email = read_email(raw) if raw is not None and doc["channel"] == "email" else None
    return CaptureView(
        id=str(doc["_id"]),
        channel=doc["channel"],
        to=doc["to"],
        provider=doc["provider"],
        summary=doc.get("summary", ""),
        captured_at=doc["captured_at"],
        size=int(doc.get("size", 0)),
        request=dict(doc.get("request") or {}),
        email=email,
    )
