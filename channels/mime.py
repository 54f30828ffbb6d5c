"""MIME serialisation for the e-mail channel: RFC 5322 bytes built directly, without ``email.message``.

``EmailMessage`` spends ~0.8 ms per small message parsing and re-folding its own headers; the e-mail
channel must push over 1,000 mails/s through one connection, so this module writes the bytes itself
with the C-accelerated encoders (``binascii.b2a_qp``, ``base64``). Every header value is ASCII or
RFC 2047-encoded, every body is 7bit, quoted-printable or base64, and every line ends with CRLF.

It stays hand-written on purpose: the standard library's ``email`` package is the only well-kept MIME
writer, and it is the cost this module exists to avoid; the tests read what it writes back through
``email``'s parser (the SMTP sink parses every mail it receives).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from email.header import Header
from email.utils import encode_rfc2231

from host.plugins.channel import Attachment

__all__ = ["build_body", "build_head", "build_message", "encode_address_header", "encode_header"]

_CRLF = b"\r\n"
# "=_" cannot occur in quoted-printable or base64 output, and 7bit bodies containing it are sent as
# quoted-printable, so a boundary starting with it never collides with content.
_BOUNDARY_PREFIX = "=_tidings_"
_MAX_LINE = 998
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*")
_SAFE_FILENAME = re.compile(r"[ !#-\[\]-~]+")  # printable ASCII except '"' and '\'


def encode_header(name: str, value: str) -> bytes:
    """Return one ``Name: value`` header line, RFC 2047-encoded when not plain ASCII."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} contains a line break")
    if value.isascii() and len(name) + len(value) + 2 <= _MAX_LINE:
        return f"{name}: {value}\r\n".encode("ascii")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


def encode_address_header(name: str, mailboxes: Sequence[str]) -> bytes:
    """Return an address-list header, one already-formatted ASCII mailbox per folded line."""
    for mailbox in mailboxes:
        if not mailbox.isascii() or "\r" in mailbox or "\n" in mailbox:
            raise ValueError(f"header {name} holds a mailbox that is not formatted for the wire")
    return (name + ": " + ",\r\n ".join(mailboxes) + "\r\n").encode("ascii")


def _text_part(text: str, subtype: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    if (
        data.isascii()
        and b"=_" not in data
        and (len(data) <= _MAX_LINE or max(map(len, data.split(b"\n"))) <= _MAX_LINE)
    ):
        encoding, body = b"7bit", data
    else:
        encoding, body = b"quoted-printable", binascii.b2a_qp(data, istext=True)
    body = body.replace(b"\n", _CRLF)
    if not body.endswith(_CRLF):
        body += _CRLF
    return b"Content-Type: text/%s; charset=utf-8\r\nContent-Transfer-Encoding: %s\r\n\r\n%s" % (
        subtype.encode("ascii"),
        encoding,
        body,
    )


def _filename_params(filename: str) -> tuple[str, str]:
    if _SAFE_FILENAME.fullmatch(filename):
        return f'name="{filename}"', f'filename="{filename}"'
    encoded = encode_rfc2231(filename, "utf-8")
    return f"name*={encoded}", f"filename*={encoded}"


def _attachment_part(attachment: Attachment) -> bytes:
    content_type = attachment.content_type
    if not _CONTENT_TYPE.fullmatch(content_type):
        content_type = "application/octet-stream"
    name, filename = _filename_params(attachment.filename or "attachment")
    body = base64.encodebytes(attachment.content).replace(b"\n", _CRLF)
    head = (
        f"Content-Type: {content_type}; {name}\r\n"
        f"Content-Disposition: attachment; {filename}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode("ascii") + body


def _multipart(subtype: str, parts: Sequence[bytes]) -> bytes:
    boundary = (_BOUNDARY_PREFIX + secrets.token_hex(12)).encode("ascii")
    delimiter = b"--" + boundary + _CRLF
    chunks = [b'Content-Type: multipart/%s; boundary="%s"\r\n\r\n' % (subtype.encode("ascii"), boundary)]
    for part in parts:
        chunks += (delimiter, part, _CRLF)
    chunks.append(b"--" + boundary + b"--\r\n")
    return b"".join(chunks)


def build_head(
    headers: Iterable[tuple[str, str | Sequence[str]]], extra_headers: Mapping[str, str] | None = None
) -> bytes:
    """The header block: ``headers`` first, then ``extra_headers``, then ``MIME-Version``.

    A header value that is a sequence is an address list of mailboxes already formatted by
    ``email.utils.formataddr``; a string value is encoded as unstructured text.
    """
    lines = [
        encode_header(name, value) if isinstance(value, str) else encode_address_header(name, value)
        for name, value in headers
    ]
    if extra_headers:
        lines += [encode_header(name, value) for name, value in extra_headers.items()]
    lines.append(b"MIME-Version: 1.0\r\n")
    return b"".join(lines)


def build_body(*, text: str | None, html: str | None, attachments: Sequence[Attachment] = ()) -> bytes:
    """The MIME body, starting with its own ``Content-Type``: what follows :func:`build_head`.

    Text and HTML together become ``multipart/alternative`` (text first, as RFC 2046 orders them by
    increasing preference); attachments wrap the body in ``multipart/mixed``. Built once, it can
    follow several header blocks (the copies of an e-mail without the user's own headers).
    """
    if text is None and html is None:
        raise ValueError("the message has neither a text nor an HTML body")
    if text is not None and html is not None:
        body = _multipart("alternative", [_text_part(text, "plain"), _text_part(html, "html")])
    elif html is not None:
        body = _text_part(html, "html")
    else:
        body = _text_part(text or "", "plain")
    if attachments:
        body = _multipart("mixed", [body, *map(_attachment_part, attachments)])
    return body


def build_message(
    *,
    headers: Iterable[tuple[str, str | Sequence[str]]],
    text: str | None,
    html: str | None,
    attachments: Sequence[Attachment] = (),
    extra_headers: Mapping[str, str] | None = None,
) -> bytes:
    """Serialise a message: :func:`build_head` then :func:`build_body`."""
    body = build_body(text=text, html=html, attachments=attachments)
    return build_head(headers, extra_headers) + body
