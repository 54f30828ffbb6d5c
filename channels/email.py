"""The e-mail channel: SMTP delivery through aiosmtplib, one connection reused for a whole batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import aiosmtplib
import msgspec

from channels.email_addresses import parse_address
from channels.email_envelope import Envelope, compose
from host.errors import ChannelError, PermanentChannelError, TransientChannelError
from host.plugins.channel import ChannelContext, Limits, Message, Receipt
from host.plugins.conventions import masked_fields, masked_repr

__all__ = ["EmailChannel", "EmailConfig", "Envelope", "SmtpSender", "compose", "parse_address"]

_log = logging.getLogger(__name__)
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
        apart = envelope.copies_data is not None
        async with self._lock:
            if not self._smtp.is_connected:
                await self.connect()
            await self._transaction_once_more(
                envelope.sender, envelope.recipient, [] if apart else envelope.copies, envelope.data
            )
            if envelope.copies_data is not None:
                try:
                    await self._transaction_once_more(
                        envelope.sender, None, envelope.copies, envelope.copies_data
                    )
                except ChannelError as exc:
                    # the user has their message (a retry would send it twice): copies are best effort,
                    # as a refused Cc always was
                    _log.warning("the Cc/Bcc copies of %s were not sent: %s", envelope.message_id, exc)
        return Receipt(provider_id=envelope.message_id, provider=self._provider)

    async def _transaction_once_more(
        self, sender: str, recipient: str | None, copies: list[str], data: bytes
    ) -> None:
        """One transaction, tried once more on a fresh connection if the server dropped an idle one."""
        try:
            await self._transaction(sender, recipient, copies, data)
        except _StaleConnection:
            # The server dropped the idle session before MAIL: nothing was sent, so retry once.
            await self.connect()
            try:
                await self._transaction(sender, recipient, copies, data)
            except _StaleConnection as stale:
                raise _transport_error(stale.cause, f"lost {self._where}") from stale.cause

    async def _transaction(self, sender: str, recipient: str | None, copies: list[str], data: bytes) -> None:
        """MAIL, RCPT ``recipient`` (which must be accepted) and ``copies`` (which may be refused), DATA.

        Without a ``recipient`` (the copies' own transaction) and with every copy refused, nothing is sent.
        """
        smtp = self._smtp
        stage = "the sender"
        try:
            # One deadline for the whole transaction rather than aiosmtplib's timer per command; the
            # commands are written directly because the addresses are already canonical (parse_address)
            # and aiosmtplib's mail()/rcpt() would parse each one again (~40 µs an address).
            async with asyncio.timeout(self._timeout):
                options = [b"SIZE=%d" % len(data)] if smtp.supports_extension("size") else []
                response = await smtp.execute_command(
                    b"MAIL", b"FROM:<" + sender.encode("ascii") + b">", *options, timeout=None
                )
                if response.code != _COMPLETED:
                    raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)
                stage = "the recipient"
                accepted = 0
                if recipient is not None:
                    await self._recipient(recipient)
                    accepted += 1
                for copy in copies:
                    try:
                        await self._recipient(copy)
                        accepted += 1
                    except aiosmtplib.SMTPRecipientRefused:
                        continue  # a refused Cc/Bcc must not cost the user their message
                if not accepted:
                    await self._reset()
                    return
                stage = "the message"
                await smtp.data(data, timeout=None)
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
