"""The bounce listener: an SMTP server (aiosmtpd) on the current event loop, in front of the mailbox.

It is where the bounce domain's MX points (``tidings bounces``, or a task of ``tidings run``). It accepts
mail for any address at the bounce domain (the VERP addresses, and e.g. a feedback-loop address such as
``fbl@<domain>``), refuses other recipients (``550 5.1.1``) and messages over
``bounces.maxMessageBytes`` (``552``), and hands each message to host.feedback.mailbox, which stores it
before the ``250``. A message that cannot be stored is answered ``451``; nothing a client sends ends the
listener (aiosmtpd answers protocol errors per session, and the handler lets no exception out).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from host.feedback.mailbox import BounceMailbox

__all__ = ["BounceListener"]

log = logging.getLogger(__name__)


class _Handler:
    """aiosmtpd's hooks, on the listener's event loop."""

    def __init__(self, mailbox: BounceMailbox) -> None:
        self._mailbox = mailbox

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self._mailbox.accepts(address):
            return f"550 5.1.1 <{address}>: not a mailbox of {self._mailbox.domain or 'this server'}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode("utf-8", "surrogateescape")
        try:
            return await self._mailbox.receive(str(envelope.mail_from or ""), list(envelope.rcpt_tos), raw)
        except Exception:  # the mailbox handles its own failures; this is the last line of defence
            log.exception("the bounce mailbox failed on a message from %r", envelope.mail_from)
            return "451 4.3.0 internal error, try again later"


class _Session(SMTP):
    """aiosmtpd's protocol, known to the listener so that stopping it closes the open sessions."""

    def __init__(self, sessions: set[SMTP], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions = sessions

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._sessions.discard(self)
        super().connection_lost(error)


class BounceListener:
    """An SMTP server for the bounce domain, started and stopped on the running event loop."""

    def __init__(
        self,
        mailbox: BounceMailbox,
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        max_message_bytes: int = 10_000_000,
        hostname: str | None = None,
    ) -> None:
        self._mailbox = mailbox
        self.host = host
        self.port = port
        self._max_bytes = max_message_bytes
        self._hostname = hostname or mailbox.domain or socket.getfqdn()
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()

    def _session(self) -> SMTP:
        return _Session(
            self._sessions,
            _Handler(self._mailbox),
            data_size_limit=self._max_bytes,
            decode_data=False,
            hostname=self._hostname,
            ident="Tidings bounce listener",
            timeout=120,
            loop=asyncio.get_running_loop(),
        )

    @property
    def domain(self) -> str | None:
        """The domain it takes mail for."""
        return self._mailbox.domain

    async def start(self) -> None:
        """Listen (port 0 picks a free one, then ``port`` says which)."""
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            # aiosmtpd logs every command and recipient at INFO: addresses do not belong in the log
            logging.getLogger("mail.log").setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._session, host=self.host, port=self.port)
        sockets: Any = self._server.sockets
        self.port = int(sockets[0].getsockname()[1])
        log.info("bounce listener on %s:%d for @%s", self.host, self.port, self._mailbox.domain)

    async def stop(self) -> None:
        """Stop listening and close the open sessions."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.close()
            await server.wait_closed()
