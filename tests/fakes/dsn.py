"""Bounce mail as a receiving MTA writes it: DSNs (RFC 3464) and abuse reports (ARF, RFC 5965).

The SMTP sink (tests/fakes/smtp.py) uses these to bounce mail it accepted back to its envelope sender,
over SMTP, as a real MTA does after a message it took turns out undeliverable; tests use them to write
variants (malformed, forged) by hand. The committed samples in tests/reference/feedback are real mail
systems' and the RFCs' own; these are shaped after them.
"""

from __future__ import annotations

import secrets
from email.utils import formatdate

__all__ = ["arf_report", "delivery_status_notification", "original_headers"]

_CRLF = "\r\n"


def original_headers(original: bytes) -> str:
    """The header block of a message (up to the first empty line), CRLF line ends."""
    text = original.replace(b"\r\n", b"\n").decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0]
    return _CRLF.join(head.split("\n")) + _CRLF


def delivery_status_notification(
    original: bytes,
    *,
    mail_from: str,
    recipient: str,
    status: str,
    diagnostic: str,
    action: str = "failed",
    reporting_mta: str = "mx.sink.test",
) -> bytes:
    """A DSN for one recipient of ``original``, returning its headers (``text/rfc822-headers``)."""
    boundary = f"dsn-{secrets.token_hex(8)}"
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>",
        f"To: <{mail_from}>",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: <{secrets.token_hex(12)}@{reporting_mta}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"Your message to <{recipient}> could not be delivered.",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {reporting_mta}",
        f"Arrival-Date: {formatdate(usegmt=True)}",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        f"Original-Recipient: rfc822;{recipient}",
        f"Action: {action}",
        f"Status: {status}",
        f"Diagnostic-Code: smtp; {diagnostic}",
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
    ]
    body = _CRLF.join(lines) + _CRLF + original_headers(original) + _CRLF + f"--{boundary}--" + _CRLF
    return body.encode("utf-8")


def arf_report(
    original: bytes,
    *,
    reporter_to: str,
    original_mail_from: str | None,
    original_rcpt_to: str | None,
    feedback_type: str = "abuse",
    reporter: str = "fbl.sink.test",
) -> bytes:
    """An ARF report about ``original`` (its headers returned), as a feedback loop sends it."""
    boundary = f"arf-{secrets.token_hex(8)}"
    fields = [f"Feedback-Type: {feedback_type}", "User-Agent: SinkFBL/1.0", "Version: 1"]
    if original_mail_from:
        fields.append(f"Original-Mail-From: <{original_mail_from}>")
    if original_rcpt_to:
        fields.append(f"Original-Rcpt-To: <{original_rcpt_to}>")
    fields.append(f"Arrival-Date: {formatdate(usegmt=True)}")
    lines = [
        f"From: <staff@{reporter}>",
        f"To: <{reporter_to}>",
        "Subject: FW: complaint",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: <{secrets.token_hex(12)}@{reporter}>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"',
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="US-ASCII"',
        "",
        "This is an email abuse report.",
        "",
        f"--{boundary}",
        "Content-Type: message/feedback-report",
        "",
        *fields,
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
    ]
    body = _CRLF.join(lines) + _CRLF + original_headers(original) + _CRLF + f"--{boundary}--" + _CRLF
    return body.encode("utf-8")
