"""The e-mail channel: SMTP delivery through aiosmtplib, one connection reused for a whole batch."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from email.utils import formatdate
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, NamedTuple

import aiosmtplib
import msgspec

from channels.email_addresses import mailbox, parse_address, valid_mailboxes
from channels.mime import build_message
from host.errors import (
    ChannelError,
    InvalidAddress,
    PermanentChannelError,
    TransientChannelError,
)
from host.plugins.channel import ChannelContext, Limits, Message, Receipt
from host.plugins.conventions import masked_fields, masked_repr

__all__ = ["EmailChannel", "EmailConfig", "Envelope", "SmtpSender", "compose", "parse_address"]

_HEADER_NAME = re.compile(r"[!-9;-~]+")
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
# Headers the channel writes itself; letting a caller set them could leak Bcc or break the MIME tree.
_RESERVED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "mime-version", "return-path", "sender"}
)
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_COMPLETED = 250
_ACCEPTED = frozenset({250, 251})  # 251: "user not local; will forward"


class EmailConfig(msgspec.Struct, frozen=True, kw_only=True):
    """SMTP settings, decoded from ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USER`` ... environment variables."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 25
    user: str | None = None
    password: str | None = None
    tls: Literal["none", "starttls", "tls"] = "none"
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    validate_certs: bool = True

    def __post_init__(self) -> None:
        if self.password is not None and self.user is None:
            raise ValueError("SMTP_PASSWORD is set but SMTP_USER is not")

    def __repr__(self) -> str:
        return masked_repr(self, ("password",))

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return masked_fields(self, ("password",))


class Envelope(NamedTuple):
    """What one SMTP transaction sends: envelope addresses and the serialised message."""

    sender: str
    recipient: str
    copies: list[str]
    data: bytes
    message_id: str


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
    extra: dict[str, str] = {}
    for name, value in message.headers.items():
        key = name.lower()
        if not _HEADER_NAME.fullmatch(name) or key in _RESERVED_HEADERS or key.startswith("content-"):
            raise PermanentChannelError(f"header {name!r} cannot be set on an e-mail", code="invalid-header")
        if key != "message-id":
            extra[name] = value
        elif _MESSAGE_ID.fullmatch(value):
            message_id = value  # a caller-chosen id keeps retries of one delivery recognisable
        else:
            raise PermanentChannelError(f"invalid Message-ID {value!r}", code="invalid-header")
    headers: list[tuple[str, str | list[str]]] = [("From", [sender.header]), ("To", [address])]
    if cc:
        headers.append(("Cc", [box.header for box in cc]))
    headers += [
        ("Subject", _LINE_BREAKS.sub(" ", message.subject or "").strip()),
        ("Date", formatdate(time.time(), usegmt=True)),
        ("Message-ID", message_id),
    ]
    try:
        data = build_message(
            headers=headers,
            text=message.text,
            html=message.html,
            attachments=message.attachments,
            extra_headers=extra,
        )
    except ValueError as exc:
        raise PermanentChannelError(f"cannot build the e-mail: {exc}", code="invalid-message") from None
    copies = [box.address for box in (*cc, *bcc)]
    return Envelope(_envelope_sender(message, sender.address), address, copies, data, message_id)


def _envelope_sender(message: Message, visible: str) -> str:
    """``MAIL FROM``: the host's bounce address when it gives one (VERP), else the visible sender's."""
    if not message.envelope_sender:
        return visible
    try:
        return parse_address(message.envelope_sender)
    except InvalidAddress as exc:
        raise PermanentChannelError(f"invalid envelope sender: {exc}", code="invalid-sender") from None


def _response_error(exc: aiosmtplib.SMTPResponseException, stage: str) -> ChannelError:
    text = f"SMTP server refused {stage}: {exc.code} {exc.message}"
    if 400 <= exc.code < 500:
        return TransientChannelError(text, code=f"smtp-{exc.code}")
    # RFC 3463: x.1.x status codes are about the address itself (no such user, bad domain ...).
    gone = stage == "the recipient" and exc.message.lstrip().startswith("5.1.")
    return PermanentChannelError(text, code=f"smtp-{exc.code}", address_gone=gone)


def _transport_error(exc: BaseException, doing: str) -> TransientChannelError:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # A reply while connecting (greeting, STARTTLS, AUTH) is about the server, never the message:
        # even a 5xx there (say 535 bad credentials) is retried, so fixing the setting saves the batch.
        return TransientChannelError(f"{doing}: {exc.code} {exc.message}", code=f"smtp-{exc.code}")
    if isinstance(exc, (TimeoutError, aiosmtplib.SMTPTimeoutError)):
        code = "smtp-timeout"
    elif isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        code = "smtp-disconnected"
    elif isinstance(exc, aiosmtplib.SMTPNotSupported):
        code = "smtp-not-supported"
    else:
        code = "smtp-connect"
    return TransientChannelError(f"{doing}: {exc}", code=code)


class SmtpSender:
    """One SMTP session for one batch; ``send`` may be awaited concurrently, transactions take turns."""

    def __init__(self, config: EmailConfig, context: ChannelContext, provider: str) -> None:
        self._context = context
        self._provider = provider
        self._smtp = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.user,
            password=config.password,
            use_tls=config.tls == "tls",
            # False, not None: None would let aiosmtplib upgrade opportunistically when offered.
            start_tls=config.tls == "starttls",
            validate_certs=config.validate_certs,
            timeout=config.timeout,
        )
        self._timeout = config.timeout
        self._lock = asyncio.Lock()
        self._where = f"SMTP server {config.host}:{config.port}"

    async def connect(self) -> None:
        """Open the session (TLS and AUTH included); raises TransientChannelError."""
        smtp = self._smtp
        try:
            await smtp.connect()
            # greet now: the transactions write their commands directly (see _transaction)
            if smtp.is_ehlo_or_helo_needed:
                try:
                    await smtp.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await smtp.helo()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _transport_error(exc, f"cannot connect to {self._where}") from exc

    async def close(self) -> None:
        """Say QUIT politely; a server that already hung up is fine too."""
        if self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                self._smtp.close()

    async def send(self, message: Message, address: str) -> Receipt:
        """Deliver one message to ``address`` (plus its valid Cc/Bcc), or raise a ChannelError."""
        envelope = compose(message, address, self._context.sender)
        async with self._lock:
            if not self._smtp.is_connected:
                await self.connect()
            try:
                await self._transaction(envelope)
            except _StaleConnection:
                # The server dropped the idle session before MAIL: nothing was sent, so retry once.
                await self.connect()
                try:
                    await self._transaction(envelope)
                except _StaleConnection as stale:
                    raise _transport_error(stale.cause, f"lost {self._where}") from stale.cause
        return Receipt(provider_id=envelope.message_id, provider=self._provider)

    async def _transaction(self, envelope: Envelope) -> None:
        smtp = self._smtp
        stage = "the sender"
        try:
            # One deadline for the whole transaction rather than aiosmtplib's timer per command; the
            # commands are written directly because the addresses are already canonical (parse_address)
            # and aiosmtplib's mail()/rcpt() would parse each one again (~40 µs an address).
            async with asyncio.timeout(self._timeout):
                options = [b"SIZE=%d" % len(envelope.data)] if smtp.supports_extension("size") else []
                sender = envelope.sender.encode("ascii")
                response = await smtp.execute_command(
                    b"MAIL", b"FROM:<" + sender + b">", *options, timeout=None
                )
                if response.code != _COMPLETED:
                    raise aiosmtplib.SMTPSenderRefused(response.code, response.message, envelope.sender)
                stage = "the recipient"
                await self._recipient(envelope.recipient)
                for copy in envelope.copies:
                    try:
                        await self._recipient(copy)
                    except aiosmtplib.SMTPRecipientRefused:
                        continue  # a refused Cc/Bcc must not cost the user their message
                stage = "the message"
                await smtp.data(envelope.data, timeout=None)
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            raise _response_error(exc, stage) from exc
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            smtp.close()
            if stage == "the sender":
                raise _StaleConnection(exc) from exc
            raise _transport_error(exc, f"lost {self._where}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()  # after a timeout the session state is unknown: start afresh next time
            raise _transport_error(exc, f"error talking to {self._where}") from exc
        except asyncio.CancelledError:
            smtp.close()  # a half-done transaction would confuse the next message on this session
            raise

    async def _recipient(self, address: str) -> None:
        response = await self._smtp.execute_command(
            b"RCPT", b"TO:<" + address.encode("ascii") + b">", timeout=None
        )
        if response.code not in _ACCEPTED:
            raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, address)

    async def _reset(self) -> None:
        try:
            await self._smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._smtp.close()


class _StaleConnection(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class EmailChannel:
    """E-mail over SMTP (plain, STARTTLS or implicit TLS; AUTH when a user is configured)."""

    name: ClassVar[str] = "email"
    address_field: ClassVar[str] = "emailAddress"
    config_type: ClassVar[type[msgspec.Struct]] = EmailConfig
    env_prefix: ClassVar[str] = "SMTP_"
    template_fields: ClassVar[Mapping[str, str]] = {
        "subject": "emailTitle",
        "text": "emailMessage",
        "html": "emailHtmlMessage",
    }
    required: ClassVar[tuple[str, ...]] = ("subject", "text|html")
    html_fields: ClassVar[tuple[str, ...]] = ("html",)
    needs_sender: ClassVar[bool] = True
    limits: ClassVar[Limits] = Limits(batch_size=100)

    def __init__(self, config: EmailConfig, context: ChannelContext) -> None:
        self.config = config
        self.context = context
        self.provider = f"smtp://{config.host}:{config.port}"

    def parse_address(self, raw: object) -> str:
        """Return the canonical address, or raise InvalidAddress naming what is wrong."""
        return parse_address(raw)

    async def startup(self) -> None:
        """Nothing to prepare: connections are per batch."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    @asynccontextmanager
    async def open(self) -> AsyncIterator[SmtpSender]:
        """Connect once for a batch; raises TransientChannelError if the server cannot be reached."""
        sender = SmtpSender(self.config, self.context, self.provider)
        await sender.connect()
        try:
            yield sender
        finally:
            await sender.close()


if TYPE_CHECKING:
    from host.plugins.channel import Channel

    _check: type[Channel] = EmailChannel
