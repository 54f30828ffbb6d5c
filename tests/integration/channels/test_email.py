"""The e-mail channel against a real SMTP server (the aiosmtpd sink in tests/fakes)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import msgspec
import pytest

from channels.email import EmailChannel, EmailConfig, SmtpSender
from host.errors import PermanentChannelError, TransientChannelError
from host.plugins.channel import Attachment, ChannelContext, Message
from tests.fakes.smtp import SmtpSink, free_port

SENDER = "Tidings <noreply@tidings.example>"
TO = "alice@example.com"


@pytest.fixture(scope="module", params=[True, False], ids=["pipelining", "in-turn"])
def sink(request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    """The sink, with and without PIPELINING: every test runs over both kinds of transaction."""
    with SmtpSink(pipelining=request.param) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest) -> None:
    # asked for by name: a test without the sink is not run once per kind of sink for nothing
    if "sink" in request.fixturenames:
        request.getfixturevalue("sink").reset()


@pytest.fixture
def channel(sink: SmtpSink) -> EmailChannel:
    return EmailChannel(EmailConfig(port=sink.port, timeout=5), ChannelContext(sender=SENDER))


async def send_one(channel: EmailChannel, message: Message, address: str = TO) -> str:
    async with channel.open() as sender:
        receipt = await sender.send(message, address)
    assert receipt.provider == f"smtp://127.0.0.1:{channel.config.port}"
    return receipt.provider_id


async def test_plain_text(channel: EmailChannel, sink: SmtpSink) -> None:
    message_id = await send_one(channel, Message(subject="Hi\nthere", text="Hello Alice\nBye\n"))
    [mail] = sink.received
    assert mail.mail_from == "noreply@tidings.example"
    assert mail.rcpt_tos == [TO]
    msg = mail.message
    assert msg["Message-ID"] == message_id
    assert msg["From"] == SENDER
    assert msg["To"] == TO
    assert msg["Subject"] == "Hi there"  # a line break in a rendered subject must not split the header
    assert msg["Date"]
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == "Hello Alice\nBye\n"


async def test_html_with_text_alternative(channel: EmailChannel, sink: SmtpSink) -> None:
    html = "<p>Grüße, <b>Alice</b></p>"
    await send_one(channel, Message(subject="Grüße 🎉", text="Grüße, Alice", html=html))
    msg = sink.received[0].message
    assert msg["Subject"] == "Grüße 🎉"
    assert msg.get_content_type() == "multipart/alternative"
    plain, rich = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().strip() == "Grüße, Alice"
    assert rich.get_content_type() == "text/html"
    assert rich.get_content().strip() == html


async def test_html_only(channel: EmailChannel, sink: SmtpSink) -> None:
    await send_one(channel, Message(subject="s", html="<p>only</p>"))
    msg = sink.received[0].message
    assert msg.get_content_type() == "text/html"
    assert msg.get_content().strip() == "<p>only</p>"


async def test_cc_in_header_bcc_only_in_envelope(channel: EmailChannel, sink: SmtpSink) -> None:
    message = Message(
        subject="s",
        text="t",
        cc=("bob@example.com", "Carol <carol@example.com>"),
        bcc=("secret@example.org",),
    )
    await send_one(channel, message)
    [mail] = sink.received
    assert mail.rcpt_tos == [TO, "bob@example.com", "carol@example.com", "secret@example.org"]
    assert mail.message["Cc"] == "bob@example.com, Carol <carol@example.com>"
    assert b"secret@example.org" not in mail.data
    assert b"bcc" not in mail.data.lower()


UNSUBSCRIBE = {"List-Unsubscribe": "<https://t.example/unsubscribe/alice-token>"}


async def test_personal_headers_go_to_the_user_alone(channel: EmailChannel, sink: SmtpSink) -> None:
    message = Message(
        subject="s",
        text="t",
        cc=("bob@example.com",),
        bcc=("secret@example.org",),
        headers={"X-Campaign": "spring"},
        personal_headers=UNSUBSCRIBE,
    )
    message_id = await send_one(channel, message)
    own, copy = sink.received
    assert own.rcpt_tos == [TO] and copy.rcpt_tos == ["bob@example.com", "secret@example.org"]
    assert own.message["List-Unsubscribe"] == UNSUBSCRIBE["List-Unsubscribe"]
    assert copy.message["List-Unsubscribe"] is None and b"alice-token" not in copy.data
    for mail in (own, copy):
        assert mail.message["Message-ID"] == message_id and mail.message["X-Campaign"] == "spring"
        assert mail.message["Cc"] == "bob@example.com" and b"secret@example.org" not in mail.data
    assert sink.connections == 1  # both transactions on the batch's one session


async def test_copies_refused_or_failing_never_cost_the_user_their_message(
    channel: EmailChannel, sink: SmtpSink
) -> None:
    message = Message(subject="s", text="t", cc=("bob@example.com",), personal_headers=UNSUBSCRIBE)
    sink.refuse("bob@example.com")
    await send_one(channel, message)
    assert [mail.rcpt_tos for mail in sink.received] == [[TO]]  # nothing sent with no copy accepted
    sink.reset()
    sink.script([None, "451 4.3.0 try later"])  # the user's DATA accepted, the copies' refused
    await send_one(channel, message)
    assert [mail.rcpt_tos for mail in sink.received] == [[TO]]
    sink.reset()
    await send_one(channel, message)  # and the session is still good for the next message
    assert [mail.rcpt_tos for mail in sink.received] == [[TO], ["bob@example.com"]]


async def test_without_personal_headers_copies_share_the_transaction(
    channel: EmailChannel, sink: SmtpSink
) -> None:
    await send_one(channel, Message(subject="s", text="t", cc=("bob@example.com",), headers=UNSUBSCRIBE))
    [mail] = sink.received
    assert mail.rcpt_tos == [TO, "bob@example.com"]


async def test_invalid_cc_and_bcc_are_ignored(channel: EmailChannel, sink: SmtpSink) -> None:
    message = Message(
        subject="s",
        text="t",
        cc=("not an address", "ok@example.com", "@example.com", TO),
        bcc=("also-bad@", "", "ok@example.com", "hidden@example.com"),
    )
    await send_one(channel, message)
    [mail] = sink.received
    assert mail.rcpt_tos == [TO, "ok@example.com", "hidden@example.com"]
    assert mail.message["Cc"] == "ok@example.com"


async def test_sender_override(channel: EmailChannel, sink: SmtpSink) -> None:
    await send_one(channel, Message(subject="s", text="t", sender="Zoë <zoe@other.example>"))
    [mail] = sink.received
    assert mail.mail_from == "zoe@other.example"
    assert mail.message["From"] == "Zoë <zoe@other.example>"
    assert mail.message["Message-ID"].endswith("@other.example>")


async def test_envelope_sender_goes_in_mail_from_and_leaves_from_alone(
    channel: EmailChannel, sink: SmtpSink
) -> None:
    verp = "bounces+hsometoken@bounces.tidings.example"
    await send_one(channel, Message(subject="s", text="t", envelope_sender=verp))
    [mail] = sink.received
    assert mail.mail_from == verp  # where the bounces of this message come back
    assert mail.message["From"] == SENDER
    assert verp not in mail.data.decode()  # not in any header: the last MTA writes Return-Path


async def test_an_invalid_envelope_sender_is_permanent(channel: EmailChannel, sink: SmtpSink) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await send_one(channel, Message(subject="s", text="t", envelope_sender="not an address"))
    assert caught.value.code == "invalid-sender"
    assert sink.received == []


async def test_no_sender_is_permanent(sink: SmtpSink) -> None:
    channel = EmailChannel(EmailConfig(port=sink.port), ChannelContext())
    with pytest.raises(PermanentChannelError) as caught:
        await send_one(channel, Message(subject="s", text="t"))
    assert caught.value.code == "no-sender"


async def test_attachments_byte_for_byte(channel: EmailChannel, sink: SmtpSink) -> None:
    blob = os.urandom(200_000)
    attachments = (
        Attachment(filename="report.pdf", content=blob, content_type="application/pdf"),
        Attachment(filename="résumé «final».txt", content=b"line\r\n.dot\r\n", content_type="text/plain"),
    )
    await send_one(
        channel, Message(subject="s", text="see attached", html="<p>see</p>", attachments=attachments)
    )
    msg = sink.received[0].message
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(("html", "plain"))
    assert body is not None
    assert body.get_content_type() == "text/html"
    found = list(msg.iter_attachments())
    assert [part.get_filename() for part in found] == ["report.pdf", "résumé «final».txt"]
    assert [part.get_content_type() for part in found] == ["application/pdf", "text/plain"]
    assert [part.get_payload(decode=True) for part in found] == [blob, b"line\r\n.dot\r\n"]


async def test_extra_headers(channel: EmailChannel, sink: SmtpSink) -> None:
    headers = {
        "Reply-To": "support@tidings.example",
        "X-Tidings-Delivery": "d-42",
        "Message-ID": "<d-42@t.example>",
    }
    message_id = await send_one(channel, Message(subject="s", text="t", headers=headers))
    msg = sink.received[0].message
    assert message_id == "<d-42@t.example>"
    assert msg["Message-ID"] == "<d-42@t.example>"
    assert msg["Reply-To"] == "support@tidings.example"
    assert msg["X-Tidings-Delivery"] == "d-42"


@pytest.mark.parametrize(
    "headers", [{"Bcc": "x@example.com"}, {"Content-Type": "text/html"}, {"X-A": "1\r\nBcc: x@y.z"}]
)
async def test_unsafe_headers_are_refused(
    channel: EmailChannel, sink: SmtpSink, headers: dict[str, str]
) -> None:
    with pytest.raises(PermanentChannelError):
        await send_one(channel, Message(subject="s", text="t", headers=headers))
    assert sink.received == []


async def test_one_connection_per_batch(channel: EmailChannel, sink: SmtpSink) -> None:
    async with channel.open() as sender:
        receipts = [
            await sender.send(Message(subject=f"n{i}", text="t"), f"user{i}@example.com") for i in range(20)
        ]
    assert sink.connections == 1
    assert len({receipt.provider_id for receipt in receipts}) == 20
    assert [mail.rcpt_tos for mail in sink.received] == [[f"user{i}@example.com"] for i in range(20)]


async def test_concurrent_sends_share_the_connection(channel: EmailChannel, sink: SmtpSink) -> None:
    async with channel.open() as sender:
        await asyncio.gather(
            *(sender.send(Message(subject="s", text="t"), f"u{i}@example.com") for i in range(10))
        )
    assert sink.connections == 1
    assert len(sink.received) == 10


async def test_reconnects_once_when_the_server_dropped_the_session(
    channel: EmailChannel, sink: SmtpSink
) -> None:
    async with channel.open() as sender:
        await sender.send(Message(subject="1", text="t"), TO)
        sink.drop_connections()  # returns once the server has closed the session
        # time for the client to read the server's FIN, so the next send reconnects before MAIL; without
        # it the stale session is found at MAIL and retried once: either way the assertions below hold
        await asyncio.sleep(0.05)
        await sender.send(Message(subject="2", text="t"), TO)
    assert [mail.message["Subject"] for mail in sink.received] == ["1", "2"]
    assert sink.connections == 2


async def test_scripted_replies_map_to_errors(channel: EmailChannel, sink: SmtpSink) -> None:
    sink.script(["451 4.3.0 try later", None, "550 5.7.1 rejected by policy"])
    async with channel.open() as sender:
        with pytest.raises(TransientChannelError) as transient:
            await sender.send(Message(subject="1", text="t"), TO)
        await sender.send(Message(subject="2", text="t"), TO)
        with pytest.raises(PermanentChannelError) as permanent:
            await sender.send(Message(subject="3", text="t"), TO)
        await sender.send(Message(subject="4", text="t"), TO)  # the session survives refusals
    assert transient.value.code == "smtp-451"
    assert "try later" in transient.value.message
    assert permanent.value.code == "smtp-550"
    assert not permanent.value.address_gone
    assert [mail.message["Subject"] for mail in sink.received] == ["2", "4"]
    assert sink.connections == 1


async def test_refused_recipient_is_permanent(channel: EmailChannel, sink: SmtpSink) -> None:
    sink.refuse("ghost@example.com")
    with pytest.raises(PermanentChannelError) as caught:
        await send_one(channel, Message(subject="s", text="t", cc=("bob@example.com",)), "ghost@example.com")
    assert caught.value.code == "smtp-550"
    assert caught.value.address_gone
    assert sink.received == []  # the Cc must not get a message the user did not


async def test_refused_copy_does_not_stop_delivery(channel: EmailChannel, sink: SmtpSink) -> None:
    sink.refuse("ghost@example.com")
    await send_one(channel, Message(subject="s", text="t", cc=("ghost@example.com", "bob@example.com")))
    assert sink.received[0].rcpt_tos == [TO, "bob@example.com"]


async def test_refused_connection_is_transient() -> None:
    channel = EmailChannel(EmailConfig(port=free_port(), timeout=2), ChannelContext(sender=SENDER))
    with pytest.raises(TransientChannelError) as caught:
        await send_one(channel, Message(subject="s", text="t"))
    assert caught.value.code == "smtp-connect"


class SilentAfterData(asyncio.Protocol):
    """An SMTP server (PIPELINING) that answers the final dot of its first ``answered`` messages only."""

    def __init__(self, answered: int, accepted: list[asyncio.BaseTransport]) -> None:
        self.answered = answered
        self.accepted = accepted
        self.buffer = b""
        self.in_data = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.accepted.append(transport)
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport.write(b"220 silent.test ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        *lines, self.buffer = (self.buffer + data).split(b"\r\n")
        for line in lines:
            verb = line[:4].upper()
            if self.in_data:
                if line == b".":
                    self.in_data = False
                    if self.answered > 0:
                        self.answered -= 1
                        self.transport.write(b"250 queued\r\n")
                    else:
                        self.in_data = True  # silent from now on
            elif verb in (b"EHLO", b"HELO"):
                self.transport.write(b"250-silent.test\r\n250 PIPELINING\r\n")
            elif verb in (b"MAIL", b"RCPT", b"RSET"):
                self.transport.write(b"250 ok\r\n")
            elif verb == b"DATA":
                self.transport.write(b"354 go ahead\r\n")
                self.in_data = True


@pytest.mark.parametrize("answered", [0, 1])
async def test_a_server_silent_after_a_message_times_its_transaction_out(answered: int) -> None:
    # the server takes the envelope and the message, then never answers its final dot: the send fails
    # as a timeout once the configured seconds have passed since that transaction began, not before,
    # also when an earlier transaction of the session started the session's timer
    loop = asyncio.get_running_loop()
    accepted: list[asyncio.BaseTransport] = []
    server = await loop.create_server(lambda: SilentAfterData(answered, accepted), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        channel = EmailChannel(EmailConfig(port=port, timeout=0.5), ChannelContext(sender=SENDER))
        async with channel.open() as sender:
            for _ in range(answered):
                await sender.send(Message(subject="s", text="answered"), TO)
                await asyncio.sleep(0.3)  # the silent one begins well after the session's timer was set
            began = loop.time()
            with pytest.raises(TransientChannelError) as caught:
                await sender.send(Message(subject="s", text="t"), TO)
            waited = loop.time() - began
        assert caught.value.code == "smtp-timeout"
        assert "no reply within 0.5 s" in caught.value.message
        assert waited >= 0.5
    finally:
        for transport in accepted:
            transport.close()
        server.close()
        await server.wait_closed()


async def test_starttls_and_auth() -> None:
    async with SmtpSink(starttls=True, auth=True) as secure:
        config = EmailConfig(
            port=secure.port,
            tls="starttls",
            user=secure.user,
            password=secure.password,
            validate_certs=False,
            timeout=5,
        )
        await send_one(EmailChannel(config, ChannelContext(sender=SENDER)), Message(subject="s", text="t"))
        [mail] = secure.received
        assert mail.tls
        assert mail.authenticated

        wrong = msgspec.structs.replace(config, password="nope")
        with pytest.raises(TransientChannelError) as caught:
            await send_one(EmailChannel(wrong, ChannelContext(sender=SENDER)), Message(subject="s", text="t"))
        assert caught.value.code == "smtp-535"


async def test_implicit_tls() -> None:
    async with SmtpSink(implicit_tls=True) as smtps:
        config = EmailConfig(port=smtps.port, tls="tls", validate_certs=False, timeout=5)
        await send_one(EmailChannel(config, ChannelContext(sender=SENDER)), Message(subject="s", text="t"))
        assert len(smtps.received) == 1


async def test_certificates_are_validated_by_default() -> None:
    async with SmtpSink(starttls=True) as secure:
        config = EmailConfig(port=secure.port, tls="starttls", timeout=5)
        with pytest.raises(TransientChannelError):
            await send_one(
                EmailChannel(config, ChannelContext(sender=SENDER)), Message(subject="s", text="t")
            )
        assert secure.received == []


async def test_sink_fail_ratio_is_reproducible() -> None:
    async def outcomes(flaky: SmtpSink) -> list[bool]:
        channel = EmailChannel(EmailConfig(port=flaky.port, timeout=5), ChannelContext(sender=SENDER))
        results = []
        async with channel.open() as sender:
            for i in range(30):
                try:
                    await sender.send(Message(subject=str(i), text="t"), TO)
                except TransientChannelError as error:
                    assert error.code == "smtp-451"
                    results.append(False)
                else:
                    results.append(True)
        return results

    async with SmtpSink(fail_ratio=0.3, seed=7) as flaky:
        first = await outcomes(flaky)
        flaky.reset()
        again = await outcomes(flaky)
    assert first == again
    assert 0 < first.count(False) < 30
    assert len(flaky.received) == again.count(True)


async def test_a_connect_cancelled_during_the_greeting_closes_its_connection() -> None:
    # a server that greets and then never answers EHLO: the connect is cancelled while waiting for it
    greeted, lost = asyncio.Event(), asyncio.Event()

    class Mute(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transport.write(b"220 mute.test ESMTP\r\n")  # type: ignore[attr-defined]

        def data_received(self, data: bytes) -> None:
            if data.upper().startswith(b"EHLO"):
                greeted.set()

        def connection_lost(self, exc: Exception | None) -> None:
            lost.set()

    server = await asyncio.get_running_loop().create_server(Mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        sender = SmtpSender(
            EmailConfig(port=port, timeout=30), ChannelContext(sender=SENDER), "smtp", "client.test"
        )
        connecting = asyncio.create_task(sender.connect())
        await asyncio.wait_for(greeted.wait(), 10)
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting
        # closed now, not whenever the garbage collector finds the socket
        await asyncio.wait_for(lost.wait(), 10)
    finally:
        server.close()
        await server.wait_closed()
