"""Reading bounce mail: delivery status notifications (RFC 3464) and abuse reports (ARF, RFC 5965).

A DSN is ``multipart/report; report-type=delivery-status``: a human-readable part, a
``message/delivery-status`` part (a block of per-message fields, then one block per recipient:
``Final-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``), and the original message or its headers
(``message/rfc822``, ``text/rfc822-headers``). A recipient whose ``Action`` is ``failed`` bounced: hard
with a 5.x.x ``Status``, soft with 4.x.x (the MTA gave up after temporary failures). ``delayed``,
``delivered``, ``relayed`` and ``expanded`` are notices, not bounces.

An ARF report is ``multipart/report; report-type=feedback-report`` with a ``message/feedback-report``
part (``Feedback-Type``, ``Original-Mail-From``, ``Original-Rcpt-To`` ...) and the original message or
its headers. ``abuse``, ``fraud``, ``virus`` and ``other`` are complaints; ``not-spam`` and
``auth-failure`` are not.

:func:`read_report` returns what the mail says (:class:`MailReading`) or raises :class:`UnreadableMail`
naming why; mapping it to a delivery is the mailbox's business (host.feedback.mailbox).
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser
from typing import Literal

import msgspec

from host.errors import TidingsError

__all__ = ["MailReading", "RecipientStatus", "UnreadableMail", "read_report"]

_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_WHITESPACE = re.compile(r"\s+")
_DELIVERY_STATUS = ("message/delivery-status", "message/global-delivery-status")
_FEEDBACK = "message/feedback-report"
_ORIGINALS = ("message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers")
_COMPLAINTS = frozenset({"abuse", "fraud", "virus", "other"})
_MAX_TEXT = 1000


class UnreadableMail(TidingsError):
    """Mail that is not a DSN or an ARF report, or one too malformed to read."""


class RecipientStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One recipient block of a DSN."""

    #: ``Original-Recipient`` (as the sender gave it) and ``Final-Recipient`` (after any forwarding)
    original: str | None
    final: str | None
    action: str
    status: str | None
    diagnostic: str | None

    @property
    def addresses(self) -> tuple[str, ...]:
        """The addresses this block names."""
        return tuple(dict.fromkeys(a for a in (self.original, self.final) if a))

    @property
    def bounced(self) -> bool:
        """Whether this recipient bounced (``Action: failed``)."""
        return self.action == "failed"

    @property
    def severity(self) -> Literal["hard", "soft"]:
        """``soft`` for a 4.x.x status; ``hard`` otherwise (5.x.x, or a failure without a status)."""
        return "soft" if (self.status or "").startswith("4.") else "hard"


class MailReading(msgspec.Struct, frozen=True, kw_only=True):
    """What a bounce mail says."""

    kind: Literal["dsn", "arf"]
    #: DSN: every recipient block, bounced or not
    recipients: tuple[RecipientStatus, ...] = ()
    #: ARF: the feedback type, and whether it is a complaint
    feedback_type: str | None = None
    #: ARF: the original envelope sender and recipient, when the reporter kept them
    original_mail_from: str | None = None
    original_rcpt_to: str | None = None
    #: the returned original's ``Message-ID`` and ``Return-Path``, when it was returned
    original_message_id: str | None = None
    original_return_path: str | None = None

    @property
    def complaint(self) -> bool:
        """Whether an ARF report is a complaint (``abuse``, ``fraud``, ``virus``, ``other``)."""
        return self.kind == "arf" and (self.feedback_type or "") in _COMPLAINTS


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = _WHITESPACE.sub(" ", str(value)).strip()
    return text[:_MAX_TEXT] or None


def _address(value: object) -> str | None:
    """The address of a ``Final-Recipient``/``Original-Rcpt-To`` (``rfc822; a@b`` → ``a@b``)."""
    text = _text(value)
    if text is None:
        return None
    kind, semicolon, address = text.partition(";")
    if semicolon and kind.strip().lower() not in ("rfc822", "utf-8"):
        return None  # an X.400 or unknown-type address: not ours to match
    found = (address if semicolon else text).strip().strip("<>").strip()
    return found or None


def _payload_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data.decode(part.get_content_charset() or "utf-8", "replace")
    payload = part.get_payload()
    return payload if isinstance(payload, str) else ""


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status or feedback-report part, however the parser left them."""
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
    if isinstance(payload, list) and payload and all(isinstance(block, Message) for block in payload):
        if encoding not in ("base64", "quoted-printable"):
            # delivery-status: one message per block; feedback-report: one nested message, its fields
            return list(payload)
        # the parser split encoded text as if it were fields: decode the text it holds instead
        encoded = "\n".join(str(block) for block in payload)
        try:
            raw = (
                base64.b64decode("".join(encoded.split()))
                if encoding == "base64"
                else quopri.decodestring(encoded)
            )
        except (binascii.Error, ValueError):
            raise UnreadableMail(f"the {part.get_content_type()} part is not valid {encoding}") from None
        text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    else:
        text = _payload_text(part).replace("\r\n", "\n")
    return [HeaderParser().parsestr(block) for block in re.split(r"\n[ \t]*\n", text) if block.strip()]


def _original(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    text = _payload_text(part)
    return HeaderParser().parsestr(text) if text.strip() else None


def _recipient(block: Message) -> RecipientStatus | None:
    action = (_text(block.get("Action")) or "").lower().split(" ")[0]
    if not action:
        return None
    match = _STATUS.match(str(block.get("Status") or ""))
    return RecipientStatus(
        original=_address(block.get("Original-Recipient")),
        final=_address(block.get("Final-Recipient")),
        action=action,
        status=".".join(match.groups()) if match else None,
        diagnostic=_text(block.get("Diagnostic-Code")),
    )


def read_report(raw: bytes) -> MailReading:
    """Read a DSN or an ARF report; raises UnreadableMail naming what is missing or wrong."""
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything it still raises is unreadable mail
        raise UnreadableMail(f"cannot parse the message: {type(exc).__name__}: {exc}") from None
    if message.get_content_type() != "multipart/report":
        raise UnreadableMail(f"not a report: its type is {message.get_content_type()}, not multipart/report")
    report_type = str(message.get_param("report-type") or "").lower()
    parts = [part for part in message.walk() if part is not message]
    original = next((part for part in parts if part.get_content_type() in _ORIGINALS), None)
    returned = _original(original) if original is not None else None
    message_id = _text(returned.get("Message-ID")) if returned is not None else None
    return_path = _address(returned.get("Return-Path")) if returned is not None else None
    if report_type == "delivery-status":
        status = next((part for part in parts if part.get_content_type() in _DELIVERY_STATUS), None)
        if status is None:
            raise UnreadableMail("a delivery-status report without a message/delivery-status part")
        recipients = tuple(r for r in map(_recipient, _blocks(status)[1:]) if r is not None)
        if not recipients:
            raise UnreadableMail("the delivery-status part has no recipient block with an Action")
        return MailReading(
            kind="dsn",
            recipients=recipients,
            original_message_id=message_id,
            original_return_path=return_path,
        )
    if report_type == "feedback-report":
        feedback = next((part for part in parts if part.get_content_type() == _FEEDBACK), None)
        fields = _blocks(feedback)[:1] if feedback is not None else []
        if not fields or not fields[0].get("Feedback-Type"):
            raise UnreadableMail("a feedback report without a message/feedback-report part and Feedback-Type")
        block = fields[0]
        return MailReading(
            kind="arf",
            feedback_type=(_text(block.get("Feedback-Type")) or "").lower(),
            original_mail_from=_address(block.get("Original-Mail-From")),
            original_rcpt_to=_address(block.get("Original-Rcpt-To")),
            original_message_id=message_id,
            original_return_path=return_path,
        )
    raise UnreadableMail(
        f"report-type {report_type or '(none)'!r} is neither delivery-status nor feedback-report"
    )
