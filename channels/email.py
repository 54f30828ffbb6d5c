"""The e-mail channel: SMTP delivery through aiosmtplib, one connection reused for a whole batch."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import aiosmtplib
import msgspec

from channels.email_addresses import parse_address
from channels.email_envelope import Envelope, compose
from channels.smtp_session import SmtpSession
from host.errors import ChannelError, PermanentChannelError, TransientChannelError
from host.plugins.channel import ChannelContext, Limits, Message, Receipt
from host.plugins.conventions import masked_fields, masked_repr

__all__ = ["EmailChannel", "EmailConfig", "Envelope", "SmtpSender", "compose", "parse_address"]

_log = logging.getLogger(__name__)


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
    """One SMTP session for one batch; ``send`` may be awaited concurrently, transactions take turns.

    aiosmtplib opens the session (TLS, AUTH); the transactions run over it in channels.smtp_session,
    pipelined when the server offers PIPELINING.
    """

    def __init__(
        self, config: EmailConfig, context: ChannelContext, provider: str, local_hostname: str | None = None
    ) -> None:
        self._config = config
        self._local_hostname = local_hostname
        self._context = context
        self._provider = provider
        self._session: SmtpSession | None = None
        self._timeout = config.timeout
        self._lock = asyncio.Lock()
        self._where = f"SMTP server {config.host}:{config.port}"
        #: what :meth:`expect` announced, composed: written behind the message being sent
        self._next: tuple[Message, str, Envelope] | None = None

    def _client(self) -> aiosmtplib.SMTP:
        config = self._config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.user,
            password=config.password,
            use_tls=config.tls == "tls",
            # False, not None: None would let aiosmtplib upgrade opportunistically when offered.
            start_tls=config.tls == "starttls",
            validate_certs=config.validate_certs,
            timeout=config.timeout,
            local_hostname=self._local_hostname,
        )

    @property
    def _connected(self) -> bool:
        return self._session is not None and self._session.is_connected

    async def connect(self) -> None:
        """Open the session (TLS and AUTH included); raises TransientChannelError."""
        smtp = self._client()  # a fresh client each time: a taken-over one is not reused
        try:
            await smtp.connect()
            if smtp.is_ehlo_or_helo_needed:
                try:
                    await smtp.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await smtp.helo()
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise _transport_error(exc, f"cannot connect to {self._where}") from exc
        except BaseException:
            # cancelled mid-greeting (a worker stopping, a timeout around the batch): aiosmtplib closes
            # its connection when its own connect fails, not when our EHLO does; dropped open, the
            # socket would wait for the garbage collector
            smtp.close()
            raise
        assert smtp.transport is not None
        self._session = SmtpSession(
            smtp.transport,
            pipelining=smtp.supports_extension("pipelining"),
            size=smtp.supports_extension("size"),
            timeout=self._timeout,
        )

    async def close(self) -> None:
        """Say QUIT politely; a server that already hung up is fine too."""
        session, self._session = self._session, None
        if session is not None and session.ahead is not None:
            session.close()  # an announced message never came: drop it unsent (QUIT would be its data)
        elif session is not None and session.is_connected:
            try:
                async with asyncio.timeout(self._timeout):
                    await session.quit()
            except (aiosmtplib.SMTPException, OSError):
                session.close()

    def expect(self, message: Message, address: str) -> None:
        """The message the next ``send`` will carry: its envelope goes out behind the current one's dot.

        Only a message to one address (no Cc/Bcc); one that cannot be composed is left to ``send``.
        """
        self._next = None
        try:
            envelope = compose(message, address, self._context.sender)
        except Exception:
            return
        if not envelope.copies:
            self._next = (message, address, envelope)

    async def send(self, message: Message, address: str) -> Receipt:
        """Deliver one message to ``address`` (plus its valid Cc/Bcc), or raise a ChannelError."""
        async with self._lock:
            session = self._session
            ahead = session.ahead if session is not None else None
            if isinstance(ahead, tuple) and ahead[0] is message and ahead[1] == address:
                envelope: Envelope = ahead[2]  # its MAIL, RCPT and DATA are on the wire already
            else:
                envelope = compose(message, address, self._context.sender)
                if session is not None and ahead is not None:
                    session.close()  # another message was announced: dropped unsent with the session
            upcoming, self._next = self._next, None
            then = None
            if upcoming is not None and upcoming[0] is not message:
                then = (upcoming, upcoming[2].sender, upcoming[1], len(upcoming[2].data))
            apart = envelope.copies_data is not None
            if not self._connected:
                await self.connect()
            await self._transaction_once_more(
                envelope.sender,
                envelope.recipient,
                [] if apart else envelope.copies,
                envelope.data,
                None if apart else then,
            )
            if envelope.copies_data is not None:
                try:
                    await self._transaction_once_more(
                        envelope.sender, None, envelope.copies, envelope.copies_data, then
                    )
                except ChannelError as exc:
                    # the user has their message (a retry would send it twice): copies are best effort,
                    # as a refused Cc always was
                    _log.warning("the Cc/Bcc copies of %s were not sent: %s", envelope.message_id, exc)
        return Receipt(provider_id=envelope.message_id, provider=self._provider)

    async def _transaction_once_more(
        self, sender: str, recipient: str | None, copies: list[str], data: bytes, then: _Then = None
    ) -> None:
        """One transaction, tried once more on a fresh connection if the server dropped an idle one."""
        try:
            await self._transaction(sender, recipient, copies, data, then)
        except _StaleConnection:
            # The server dropped the idle session before answering MAIL: nothing was sent, so retry once.
            await self.connect()
            try:
                await self._transaction(sender, recipient, copies, data, then)
            except _StaleConnection as stale:
                raise _transport_error(stale.cause, f"lost {self._where}") from stale.cause

    async def _transaction(
        self, sender: str, recipient: str | None, copies: list[str], data: bytes, then: _Then = None
    ) -> None:
        """MAIL, RCPT ``recipient`` (which must be accepted) and ``copies`` (which may be refused), DATA.

        Without a ``recipient`` (the copies' own transaction) and with every copy refused, nothing is sent.
        """
        session = self._session
        assert session is not None
        recipients = ([recipient] if recipient is not None else []) + copies
        # one deadline for the whole transaction, failing the session's waits for replies (every wait in
        # send_mail is one; the session's one timer, not asyncio.timeout's bookkeeping on every mail)
        session.start_deadline()
        try:
            await session.send_mail(sender, recipients, data, first_required=recipient is not None, then=then)
        except aiosmtplib.SMTPResponseException as exc:
            # with the next envelope behind this message's dot, the refusal was of the message itself:
            # the transaction is over (RFC 5321), and an RSET now would land in the next one's data
            if session.is_connected and session.ahead is None:
                await self._reset(session)
            raise _response_error(exc, _stage_of(exc)) from exc
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            session.close()
            if not session.replied:  # nothing answered since the last transaction: nothing was sent
                raise _StaleConnection(exc) from exc
            raise _transport_error(exc, f"lost {self._where}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            session.close()  # after a timeout the session state is unknown: start afresh next time
            raise _transport_error(exc, f"error talking to {self._where}") from exc
        except asyncio.CancelledError:
            session.close()  # a half-done transaction would confuse the next message on this session
            raise
        finally:
            session.end_deadline()

    async def _reset(self, session: SmtpSession) -> None:
        try:
            await session.reset()
        except (aiosmtplib.SMTPException, OSError):
            session.close()


def _stage_of(exc: aiosmtplib.SMTPResponseException) -> str:
    """What a refusal was about, as the error message names it."""
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return "the sender"
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return "the recipient"
    return "the message"


#: the next message announced with ``expect`` (its token, envelope sender, recipient, size), if any
_Then = tuple[object, str, str, int] | None


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
    #: a batch is one SMTP connection and ~11 database round trips, a share of the worker's CPU whatever
    #: its size: bench.email_batches measured 291 and 376 µs a mail at 200 against 334 and 426 at 100
    #: (medians of 12 interleaved rounds, two runs), for twice the sends a killed worker may leave
    #: unrecorded (sent again, never lost)
    limits: ClassVar[Limits] = Limits(batch_size=200)

    def __init__(self, config: EmailConfig, context: ChannelContext) -> None:
        self.config = config
        self.context = context
        self.provider = f"smtp://{config.host}:{config.port}"
        #: what EHLO names this host: looked up once (aiosmtplib would run socket.getfqdn in a thread
        #: for every connection: a batch's connection measured 660-850 µs of CPU with it, 520-550 without)
        self._local_hostname: str | None = None

    #: the canonical address, or InvalidAddress naming what is wrong: the module's function itself, no
    #: method frame around it (the fan-out parses every member's address)
    parse_address = staticmethod(parse_address)

    async def startup(self) -> None:
        """Nothing to prepare: connections are per batch."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    @asynccontextmanager
    async def open(self) -> AsyncIterator[SmtpSender]:
        """Connect once for a batch; raises TransientChannelError if the server cannot be reached."""
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        sender = SmtpSender(self.config, self.context, self.provider, self._local_hostname)
        await sender.connect()
        try:
            yield sender
        finally:
            await sender.close()


if TYPE_CHECKING:
    from host.plugins.channel import Channel

    _check: type[Channel] = EmailChannel
