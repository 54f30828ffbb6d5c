"""SMTP mail transactions over a session aiosmtplib opened, pipelined (RFC 2920) when the server offers it.

aiosmtplib connects, greets, starts TLS and authenticates; then :class:`SmtpSession` takes the session's
transport over (``transport.set_protocol``) and runs the mail transactions itself. aiosmtplib has no
pipelining, and its protocol parses one reply per arrival of data, so replies that arrive together would
wait for the next packet; this protocol parses every complete reply it receives, in order.

With ``PIPELINING`` advertised, MAIL, RCPT and DATA go out in one write and the message in a second:
two round trips a mail instead of four, and half the wake-ups of the worker and the server (measured
with Postfix's smtp-sink: the README's Performance section). When the next message is known, its MAIL,
RCPT and DATA follow the message's final dot in the same write: one round trip a mail. Without
PIPELINING, or when the message has Cc/Bcc copies (a refused copy must not stop the others, and a
refused user must stop them all, which only replies read in turn can decide), each command waits for
its reply. Errors are aiosmtplib's
exception classes, so the e-mail channel maps them as it always did.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from typing import NamedTuple

from aiosmtplib import (
    SMTPDataError,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)

__all__ = ["Reply", "SmtpSession", "wire_data"]

_COMPLETED = 250
_START_INPUT = 354
_ACCEPTED = frozenset({250, 251})  # 251: "user not local; will forward"
_MAX_LINE = 8192  # RFC 5321 allows 512 octets a reply line; aiosmtplib takes up to 8192
_MAX_BUFFER = _MAX_LINE * 4
_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_PERIOD = re.compile(rb"(?m)^\.")


class Reply(NamedTuple):
    """One server reply: its code and its text (the lines of a multiline reply joined by newlines)."""

    code: int
    message: str


def wire_data(data: bytes) -> bytes:
    """The message as DATA sends it: CRLF line ends, leading periods doubled, the final ``.`` line."""
    # the two rewrites only when needed (C-speed counts first): the e-mail channel's own MIME already
    # ends every line with CRLF, and most messages have no line starting with a period
    pairs = data.count(b"\r\n")
    if data.count(b"\n") != pairs or data.count(b"\r") != pairs:
        data = _LINE_ENDINGS.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b".") or b"\n." in data:
        data = _LEADING_PERIOD.sub(b"..", data)
    return data + b".\r\n"


class SmtpSession(asyncio.Protocol):
    """The protocol of one taken-over SMTP session: writes commands, hands out replies in order."""

    def __init__(
        self, transport: asyncio.BaseTransport, *, pipelining: bool, size: bool, timeout: float
    ) -> None:
        self.pipelining = pipelining
        #: seconds a transaction may take (:meth:`start_deadline`)
        self.timeout = timeout
        self._size = size  # the server takes MAIL's SIZE= (RFC 1870)
        self._transport = transport
        self._buffer = bytearray()
        self._replies: deque[Reply] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: BaseException | None = None
        self._deadline: float | None = None  # the current transaction's, on the loop's clock
        self._timer: asyncio.TimerHandle | None = None
        #: whether the server has answered anything in the current transaction (before its first reply
        #: nothing of the message was sent, so a connection found dead then can be retried elsewhere)
        self.replied = False
        #: the next transaction's envelope, written behind the last message (``send_mail(then=...)``) and
        #: not answered yet: the next ``send_mail`` must be that one (its caller's token for it)
        self.ahead: object | None = None
        transport.set_protocol(self)

    # --- the protocol side ------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        """Parse every complete reply in what has arrived (several, when commands were pipelined)."""
        self._buffer += data
        try:
            while (reply := self._parse_one()) is not None:
                self._replies.append(reply)
        except SMTPResponseException as exc:
            self._fail(exc)
            self._transport.close()
            return
        if len(self._buffer) > _MAX_BUFFER:
            self._fail(SMTPResponseException(-1, "Response too long"))
            self._transport.close()
            return
        self._wake()

    def _parse_one(self) -> Reply | None:
        buffer, offset, lines = self._buffer, 0, []
        while True:
            end = buffer.find(b"\n", offset)
            if end == -1:
                return None  # incomplete: wait for more
            line = bytes(buffer[offset : end + 1])
            if len(line) > _MAX_LINE or not line[:3].isdigit():
                text = line[:80].decode("utf-8", "replace").strip()
                raise SMTPResponseException(-1, f"Malformed SMTP response line: {text}")
            offset = end + 1
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":  # the last line of this reply
                del buffer[:offset]
                return Reply(int(line[:3]), b"\n".join(lines).decode("utf-8", "surrogateescape"))

    def eof_received(self) -> bool:
        self._fail(SMTPServerDisconnected("Unexpected EOF received"))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._fail(SMTPServerDisconnected("Connection lost" if exc is None else f"Connection lost: {exc}"))

    def _fail(self, exc: BaseException) -> None:
        if self._lost is None:
            self._lost = exc
        self._wake()

    # --- the transaction's deadline: one timer a session, not one a mail -------------------------------
    def start_deadline(self) -> None:
        """Fail the waits for replies (TimeoutError) once :attr:`timeout` seconds have passed, until
        :meth:`end_deadline`: then the caller closes the session, whose state is unknown.

        One timer serves every transaction of the session: when it fires before the current
        transaction's deadline it is set again for that deadline, so each transaction times out at its
        own (a timer a mail cost ~3 µs to set and cancel, asyncio.timeout ~7: the bookkeeping, not the
        wait, on every mail of a batch).
        """
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self.timeout
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._check_deadline)

    def end_deadline(self) -> None:
        """The transaction is over: its deadline no longer applies."""
        self._deadline = None

    def _check_deadline(self) -> None:
        self._timer = None
        if self._deadline is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() >= self._deadline:
            self._fail(TimeoutError(f"no reply within {self.timeout:g} s"))
        else:
            self._timer = loop.call_at(self._deadline, self._check_deadline)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # --- the client side ---------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        """Whether the session can still carry a transaction."""
        return self._lost is None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        """Send bytes as they are; raises SMTPServerDisconnected when the session is gone."""
        if not self.is_connected:
            raise self._lost or SMTPServerDisconnected("Connection lost")
        self._transport.write(data)  # type: ignore[attr-defined]

    async def reply(self) -> Reply:
        """The next reply, in the order the commands were written."""
        while not self._replies:
            if self._lost is not None:
                raise self._lost
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self.replied = True
        return self._replies.popleft()

    async def command(self, line: bytes) -> Reply:
        """Write one command line (CRLF added) and wait for its reply."""
        self.write(line + b"\r\n")
        return await self.reply()

    def close(self) -> None:
        """Drop the connection (a transaction left half done is discarded by the server)."""
        self._transport.close()

    async def quit(self) -> None:
        """Say QUIT, read the goodbye, close."""
        try:
            await self.command(b"QUIT")
        finally:
            self.close()

    async def reset(self) -> None:
        """RSET: forget the current transaction (after a refusal)."""
        reply = await self.command(b"RSET")
        if reply.code != _COMPLETED:
            raise SMTPResponseException(reply.code, reply.message)

    # --- one transaction ---------------------------------------------------------------------------
    def _group(self, sender: str, recipient: str, size: int) -> bytes:
        """MAIL, RCPT and DATA of a one-recipient transaction, as one pipelined group."""
        mail = b"MAIL FROM:<" + sender.encode("ascii") + b">"
        if self._size:
            mail += b" SIZE=%d" % size
        return mail + b"\r\nRCPT TO:<" + recipient.encode("ascii") + b">\r\nDATA\r\n"

    async def send_mail(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        *,
        first_required: bool,
        then: tuple[object, str, str, int] | None = None,
    ) -> bool:
        """MAIL, RCPT for each recipient, DATA and the message; False if no recipient took it.

        With ``first_required``, a refused first recipient raises SMTPRecipientRefused and nothing is
        sent; the others may be refused (skipped). No accepted recipient: RSET, nothing sent. MAIL
        refused: SMTPSenderRefused; DATA or the message refused: SMTPDataError. The addresses are
        canonical already (the channel parsed them), so they are written as they are.

        ``then`` (token, sender, recipient, size) is the next one-recipient transaction: with
        PIPELINING, its MAIL, RCPT and DATA follow this message's final dot in the same write (RFC 2920
        lets a group start after the message content), so a mail costs one round trip, not two; its
        replies are read by the next ``send_mail``, which must be that transaction (:attr:`ahead`).
        """
        self.replied = False
        if self.ahead is not None:  # this envelope went out behind the last message
            self.ahead = None
            await self._envelope_replies(sender, recipients[0])
        elif self.pipelining and first_required and len(recipients) == 1:
            self.write(self._group(sender, recipients[0], len(data)))
            await self._envelope_replies(sender, recipients[0])
        else:
            mail = b"MAIL FROM:<" + sender.encode("ascii") + b">"
            if self._size:
                mail += b" SIZE=%d" % len(data)
            rcpts = [b"RCPT TO:<" + address.encode("ascii") + b">" for address in recipients]
            if not await self._envelope_in_turn(mail, rcpts, sender, recipients, first_required):
                return False
        payload = wire_data(data)
        if then is not None and self.pipelining:
            payload += self._group(*then[1:])
            self.ahead = then[0]
        self.write(payload)
        reply = await self.reply()
        if reply.code != _COMPLETED:
            raise SMTPDataError(reply.code, reply.message)
        return True

    async def _envelope_replies(self, sender: str, recipient: str) -> None:
        """The three replies to a pipelined MAIL, RCPT and DATA (RFC 2920: DATA ends the group)."""
        mail_reply, rcpt_reply, data_reply = await self.reply(), await self.reply(), await self.reply()
        if data_reply.code == _START_INPUT and (
            mail_reply.code != _COMPLETED or rcpt_reply.code not in _ACCEPTED
        ):
            # a server that wants the message despite a refusal: leave rather than send it anywhere
            self.close()
        if mail_reply.code != _COMPLETED:
            raise SMTPSenderRefused(mail_reply.code, mail_reply.message, sender)
        if rcpt_reply.code not in _ACCEPTED:
            raise SMTPRecipientRefused(rcpt_reply.code, rcpt_reply.message, recipient)
        if data_reply.code != _START_INPUT:
            raise SMTPDataError(data_reply.code, data_reply.message)

    async def _envelope_in_turn(
        self, mail: bytes, rcpts: list[bytes], sender: str, recipients: list[str], first_required: bool
    ) -> bool:
        """MAIL, each RCPT and DATA, each after the previous reply; False if no recipient was taken."""
        reply = await self.command(mail)
        if reply.code != _COMPLETED:
            raise SMTPSenderRefused(reply.code, reply.message, sender)
        accepted = 0
        for index, (rcpt, address) in enumerate(zip(rcpts, recipients, strict=True)):
            reply = await self.command(rcpt)
            if reply.code in _ACCEPTED:
                accepted += 1
            elif index == 0 and first_required:
                raise SMTPRecipientRefused(reply.code, reply.message, address)
            # a refused Cc/Bcc must not cost the user their message
        if not accepted:
            await self.reset()
            return False
        reply = await self.command(b"DATA")
        if reply.code != _START_INPUT:
            raise SMTPDataError(reply.code, reply.message)
        return True
