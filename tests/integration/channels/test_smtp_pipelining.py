"""SMTP pipelining (RFC 2920) over a real socket: a server that answers a group only once all of it came.

A client that waited for each reply before the next command would never get one from this server, so
these tests fail unless MAIL, RCPT and DATA really travel together; the server writes its replies to a
group in one packet, so they also fail unless every reply in one arrival is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from channels.email import EmailChannel, EmailConfig
from host.errors import PermanentChannelError
from host.plugins.channel import ChannelContext, Message

#: the replies to one MAIL/RCPT/DATA group, from the RCPT address
Replies = Callable[[bytes], bytes]


def accept_all(rcpt: bytes) -> bytes:
    return b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"


class GroupServer:
    """Greets, offers PIPELINING, and answers MAIL+RCPT+DATA together; records every line it got."""

    def __init__(self, replies: Replies) -> None:
        self.replies = replies
        self.lines: list[bytes] = []
        self.messages: list[bytes] = []
        self.port = 0
        #: answer a message's final dot only once something more came (the next group), but for the
        #: ``expected``-th message: a client waiting for that answer before its next MAIL never gets it
        self.expected = 0
        #: the final reply to a message
        self.final: Callable[[bytes], bytes] = lambda message: b"250 2.0.0 Ok: queued\r\n"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 group.test ESMTP\r\n")
        early = b""
        try:
            while line := early or await reader.readline():
                early = b""
                self.lines.append(line)
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-group.test\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n")
                elif verb == b"MAIL":
                    rcpt, data = await reader.readline(), await reader.readline()  # the rest of the group
                    self.lines += [rcpt, data]
                    assert rcpt.startswith(b"RCPT TO:") and data == b"DATA\r\n", (rcpt, data)
                    replies = self.replies(rcpt)
                    writer.write(replies)
                    if replies.rstrip().endswith(b"<CR><LF>.<CR><LF>"):  # 354: the message follows
                        self.messages.append(message := await reader.readuntil(b"\r\n.\r\n"))
                        if self.expected and len(self.messages) < self.expected:
                            early = await reader.readline()
                        writer.write(self.final(message))
                elif verb == b"RSET":
                    writer.write(b"250 2.0.0 Ok\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    break
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Replies], asyncio.Future[GroupServer]]]:
    servers: list[asyncio.Server] = []

    async def start(replies: Replies) -> GroupServer:
        group = GroupServer(replies)
        server = await asyncio.start_server(group.handle, "127.0.0.1", 0)
        group.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return group

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()
        await server.wait_closed()


def channel(port: int) -> EmailChannel:
    return EmailChannel(EmailConfig(port=port, timeout=3), ChannelContext(sender="noreply@tidings.test"))


async def test_mail_rcpt_and_data_travel_together(
    serve: Callable[[Replies], asyncio.Future[GroupServer]],
) -> None:
    server = await serve(accept_all)
    async with channel(server.port).open() as sender:
        for i in range(3):
            await sender.send(
                Message(subject=f"Hi {i}", text=f"Line\n.starts with a dot {i}\n"), f"u{i}@example.test"
            )
    assert len(server.messages) == 3
    assert b"\r\n..starts with a dot 2\r\n" in server.messages[2]  # dot-stuffed on the wire
    mails = [line for line in server.lines if line.startswith(b"MAIL")]
    assert mails[0].startswith(b"MAIL FROM:<noreply@tidings.test> SIZE=")


async def test_a_refused_recipient_in_a_group_sends_nothing_and_the_session_goes_on(
    serve: Callable[[Replies], asyncio.Future[GroupServer]],
) -> None:
    def refuse_gone(rcpt: bytes) -> bytes:
        if b"gone@" in rcpt:
            return (
                b"250 2.1.0 Ok\r\n550 5.1.1 <gone@example.test>: unknown user\r\n"
                b"554 5.5.1 No valid recipients\r\n"
            )
        return accept_all(rcpt)

    server = await serve(refuse_gone)
    async with channel(server.port).open() as sender:
        with pytest.raises(PermanentChannelError) as refused:
            await sender.send(Message(subject="Hi", text="never sent"), "gone@example.test")
        await sender.send(Message(subject="Hi", text="sent"), "here@example.test")
    assert refused.value.code == "smtp-550" and refused.value.address_gone
    assert b"RSET\r\n" in server.lines  # the refused transaction was reset before the next
    [message] = server.messages
    assert b"sent" in message and b"never sent" not in message


async def test_the_next_envelope_travels_behind_the_message_dot(
    serve: Callable[[Replies], asyncio.Future[GroupServer]],
) -> None:
    server = await serve(accept_all)
    server.expected = 4  # withholds each message's answer until the next group came: one round trip a mail
    messages = [(Message(subject=f"Hi {i}", text=f"Mail {i}\n"), f"u{i}@example.test") for i in range(4)]
    async with channel(server.port).open() as sender:
        for i, (message, address) in enumerate(messages):
            if i + 1 < len(messages):
                sender.expect(*messages[i + 1])  # as the delivery worker announces the next one
            receipt = await sender.send(message, address)
            assert receipt.provider_id.encode() in server.messages[i]  # the announced envelope was its own
    assert [m.split(b"Subject: ")[1][:4] for m in server.messages] == [b"Hi 0", b"Hi 1", b"Hi 2", b"Hi 3"]
    rcpts = [line for line in server.lines if line.startswith(b"RCPT")]
    assert rcpts == [f"RCPT TO:<u{i}@example.test>\r\n".encode() for i in range(4)]


async def test_an_announced_message_that_does_not_come_is_never_sent(
    serve: Callable[[Replies], asyncio.Future[GroupServer]],
) -> None:
    server = await serve(accept_all)
    announced = Message(subject="Announced", text="never sent")
    async with channel(server.port).open() as sender:
        sender.expect(announced, "late@example.test")
        await sender.send(Message(subject="First", text="one"), "first@example.test")
        # something else comes next: the session carrying the announced envelope is dropped
        await sender.send(Message(subject="Other", text="two"), "other@example.test")
        sender.expect(announced, "late@example.test")
        await sender.send(Message(subject="Last", text="three"), "last@example.test")
        # the batch ends without it: closing must not turn QUIT into its data
    assert [m.split(b"Subject: ")[1][:5] for m in server.messages] == [b"First", b"Other", b"Last\r"]
    assert not any(b"never sent" in m or b"QUIT" in m for m in server.messages)


async def test_a_refused_message_with_the_next_envelope_behind_it_is_not_reset(
    serve: Callable[[Replies], asyncio.Future[GroupServer]],
) -> None:
    server = await serve(accept_all)
    server.final = lambda m: b"554 5.7.1 Rejected\r\n" if b"spam" in m else b"250 2.0.0 Ok\r\n"
    after = Message(subject="After", text="fine")
    async with channel(server.port).open() as sender:
        sender.expect(after, "b@example.test")
        with pytest.raises(PermanentChannelError) as refused:
            await sender.send(Message(subject="Spam", text="spam"), "a@example.test")
        await sender.send(after, "b@example.test")
    assert refused.value.code == "smtp-554"
    assert b"RSET\r\n" not in server.lines  # it would have become part of the next message
    assert len(server.messages) == 2 and server.messages[1].endswith(b"fine\r\n.\r\n")
