"""A local SMTP peer (aiosmtpd) that stores what it receives and answers what a test scripts.

Use it from tests (``with SmtpSink() as sink:`` or ``async with``) or by hand::

    python -m tests.fakes.smtp --port 2525 [--starttls | --tls] [--auth] [--fail-ratio 0.1]

It listens on 127.0.0.1, on a free port unless one is given. Optional STARTTLS or implicit TLS use a
self-signed certificate made at start (clients must not validate it); optional AUTH accepts only
``SmtpSink.user``/``SmtpSink.password``. Replies to DATA can be scripted (``sink.script([...])``) or
failed at random with a seeded ``fail_ratio``; recipients can be refused with ``sink.refuse(...)`` (at
RCPT) or ``sink.refuse_data(...)`` (at DATA). Counting connections (``sink.connections``) shows whether a
client reuses its session. It advertises PIPELINING (RFC 2920) as Postfix does, unless
``pipelining=False``: aiosmtpd reads commands line by line, so pipelined groups are answered in order.

Like a real MTA, the sink can turn out unable to deliver a message it accepted: for a recipient marked
with ``sink.bounce_later(address, ...)`` it sends a DSN (RFC 3464) to the message's envelope sender, and
for one marked with ``sink.complain_later(address, ...)`` an abuse report (ARF), over SMTP to
``sink.reports_to`` (the bounce listener); ``sink.reports_sent`` holds each report and the reply it got.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import ipaddress
import random
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cached_property
from pathlib import Path
from typing import Any

import aiosmtplib
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.fakes.dsn import arf_report, delivery_status_notification
from tests.support.waiting import eventually_sync

__all__ = ["ReceivedMail", "SentReport", "SmtpSink", "free_port", "self_signed_context"]

_ACCEPT = "250 2.0.0 OK: queued"


@dataclass
class ReceivedMail:
    """One accepted message: the envelope and the exact bytes of DATA (dot-unstuffed)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    authenticated: bool = False
    tls: bool = False
    #: when DATA was accepted (``time.time()``), for tests of when something is sent
    received_at: float = field(default_factory=time.time)

    @cached_property
    def message(self) -> EmailMessage:
        """The data parsed (modern policy, ``\\n`` line ends) on first use, to keep the sink fast."""
        parsed = BytesParser(policy=policy.default).parsebytes(self.data.replace(b"\r\n", b"\n"))
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SentReport:
    """A DSN or ARF report the sink sent back: to whom, the bytes, and the listener's reply (or error)."""

    kind: str
    rcpt_to: str
    data: bytes
    reply: str


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that was free a moment ago (aiosmtpd's Controller cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def self_signed_context(host: str = "127.0.0.1") -> ssl.SSLContext:
    """Return a server SSLContext with a fresh self-signed certificate for ``host`` and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tidings-smtp-sink")])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    with contextlib.suppress(ValueError):
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain reads files only; the directory lives just long enough for that.
    with tempfile.TemporaryDirectory() as directory:
        cert_path, key_path = Path(directory, "cert.pem"), Path(directory, "key.pem")
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context.load_cert_chain(cert_path, key_path)
    return context


@dataclass
class HeldData:
    """DATA kept waiting by :meth:`SmtpSink.hold_data`: ``reached`` once one waits, sent on ``release``."""

    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


class _Handler:
    """aiosmtpd hooks; they run on the sink's own thread and event loop."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does without the hook
        if self.sink.pipelining:
            responses.insert(-1, "250-PIPELINING")  # before the last line ("250 HELP")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # aiosmtpd's auth_required without TLS emits a warning; enforcing AUTH here works in all modes.
        if self.sink.auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.sink._refused.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        hold = self.sink._hold
        if hold is not None:
            hold.reached.set()
            if not await asyncio.to_thread(hold.released.wait, 60):
                return "421 4.4.2 Held too long"
        for address in envelope.rcpt_tos:
            refused = self.sink._data_refused.get(address.lower())
            if refused is not None:
                return refused
        reply = self.sink._data_reply()
        if reply is not None:
            return reply
        content = envelope.content
        assert isinstance(content, bytes)
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            data=content,
            authenticated=bool(session.authenticated),
            tls=session.ssl is not None or self.sink.implicit_tls,
        )
        self.sink.received.append(mail)
        if self.sink.on_message is not None:
            self.sink.on_message(mail)
        for address in mail.rcpt_tos:
            later = self.sink._later.get(address.lower())
            if later is not None:  # sent after the reply, as an MTA does once delivery failed
                task = asyncio.get_running_loop().create_task(self.sink._report(mail, address, later))
                self.sink._tasks.add(task)
                task.add_done_callback(self.sink._tasks.discard)
        return _ACCEPT


class _CountingSMTP(SMTP):
    """aiosmtpd's SMTP protocol, counting connections and keeping them so they can be dropped."""

    def __init__(self, sink: SmtpSink, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sink = sink

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        with self._sink._lock:
            self._sink.connections += 1
            self._sink._open.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        with self._sink._lock:
            self._sink._open.discard(self)
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, sink: SmtpSink, **kwargs: Any) -> None:
        super().__init__(_Handler(sink), **kwargs)
        self._sink = sink

    def factory(self) -> SMTP:
        return _CountingSMTP(self._sink, self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every accepted message in ``received``."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port at start
    starttls: bool = False  # offer (and then require) STARTTLS with a self-signed certificate
    implicit_tls: bool = False  # TLS from the first byte (SMTPS), same kind of certificate
    auth: bool = False  # require AUTH PLAIN/LOGIN with user/password before MAIL
    user: str = "tidings"
    password: str = "sink-password"
    fail_ratio: float = 0.0  # answer 451 to this fraction of DATA commands (seeded, reproducible)
    pipelining: bool = True  # advertise PIPELINING
    seed: int = 0
    on_message: Callable[[ReceivedMail], None] | None = None
    #: (host, port) of the bounce listener that DSNs and ARF reports go to
    reports_to: tuple[str, int] | None = None

    received: list[ReceivedMail] = field(default_factory=list, init=False, repr=False)
    connections: int = field(default=0, init=False)
    _script: deque[str | None] = field(default_factory=deque, init=False, repr=False)
    _refused: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _data_refused: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _later: dict[str, dict[str, str]] = field(default_factory=dict, init=False, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)
    reports_sent: list[SentReport] = field(default_factory=list, init=False, repr=False)
    _open: set[SMTP] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _controller: _Controller | None = field(default=None, init=False, repr=False)
    _hold: HeldData | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> SmtpSink:
        """Start listening (on its own thread); returns self."""
        if self.port == 0:
            self.port = free_port(self.host)
        tls_context = self_signed_context(self.host) if self.starttls or self.implicit_tls else None
        self._controller = _Controller(
            self,
            hostname=self.host,
            port=self.port,
            decode_data=False,
            tls_context=tls_context if self.starttls else None,
            ssl_context=tls_context if self.implicit_tls else None,
            require_starttls=self.starttls,
            auth_require_tls=self.starttls,
            authenticator=self._authenticate if self.auth else None,
        )
        self._controller.start()
        self.connections = 0  # the controller's own readiness probe is not a client
        return self

    def stop(self) -> None:
        """Stop listening and close open sessions."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> SmtpSink:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # --- behaviour -----------------------------------------------------------------------------
    def script(self, replies: Iterable[str | None]) -> None:
        """Queue replies for the next DATA commands, in order; ``None`` accepts that message."""
        self._script.extend(replies)

    def refuse(self, *addresses: str, reply: str = "550 5.1.1 No such user") -> None:
        """Answer RCPT TO for these addresses with ``reply`` until ``reset``."""
        self._refused.update({address.lower(): reply for address in addresses})

    def hold_data(self) -> HeldData:
        """Keep the next messages' DATA waiting (the sender mid-transaction) until ``release``."""
        self._hold = HeldData()
        return self._hold

    def refuse_data(self, *addresses: str, reply: str = "550 5.7.1 Message rejected by policy") -> None:
        """Answer DATA with ``reply`` for messages to any of these addresses, until ``reset``."""
        self._data_refused.update({address.lower(): reply for address in addresses})

    def bounce_later(
        self, address: str, status: str = "5.1.1", diagnostic: str = "550 5.1.1 <{address}>: user unknown"
    ) -> None:
        """Accept mail to ``address``, then send its envelope sender a DSN saying it failed."""
        self._later[address.lower()] = {
            "kind": "dsn",
            "status": status,
            "diagnostic": diagnostic.format(address=address),
        }

    def complain_later(self, address: str, *, to: str, feedback_type: str = "abuse") -> None:
        """Accept mail to ``address``, then send an abuse report about it to ``to`` (a feedback loop)."""
        self._later[address.lower()] = {"kind": "arf", "to": to, "feedback_type": feedback_type}

    async def _report(self, mail: ReceivedMail, address: str, later: dict[str, str]) -> None:
        if later["kind"] == "dsn":
            rcpt_to = mail.mail_from
            data = delivery_status_notification(
                mail.data,
                mail_from=mail.mail_from,
                recipient=address,
                status=later["status"],
                diagnostic=later["diagnostic"],
            )
        else:
            rcpt_to = later["to"]
            data = arf_report(
                mail.data,
                reporter_to=rcpt_to,
                original_mail_from=mail.mail_from,
                original_rcpt_to=address,
                feedback_type=later["feedback_type"],
            )
        if self.reports_to is None:
            reply = "not sent: no reports_to"
        else:
            host, port = self.reports_to
            try:  # a DSN's envelope sender is null, so that it never bounces itself (RFC 5321 4.5.5)
                async with aiosmtplib.SMTP(hostname=host, port=port, timeout=10) as client:
                    await client.mail("")
                    await client.rcpt(rcpt_to)
                    response = await client.data(data)
                reply = f"{response.code} {response.message}"
            except (aiosmtplib.SMTPException, OSError) as exc:
                reply = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.reports_sent.append(SentReport(later["kind"], rcpt_to, data, reply))

    def drop_connections(self, timeout: float = 5.0) -> None:
        """Close every open session abruptly, as a server dropping idle clients does; returns once closed."""
        if self._controller is None:
            return
        with self._lock:
            sessions = list(self._open)
        for session in sessions:
            if session.transport is not None:
                self._controller.loop.call_soon_threadsafe(session.transport.close)

        def still_open() -> list[SMTP]:
            with self._lock:
                return [session for session in sessions if session in self._open]

        eventually_sync(still_open, until=lambda left: not left, timeout=timeout, what="the dropped sessions")

    def reset(self) -> None:
        """Forget received mail, connections, scripted replies and refusals."""
        self.received.clear()
        self._script.clear()
        self._refused.clear()
        self._data_refused.clear()
        self._later.clear()
        self._hold = None
        self.reports_sent.clear()
        self.connections = 0
        self._random = random.Random(self.seed)

    def _data_reply(self) -> str | None:
        if self._script:
            return self._script.popleft()
        if self.fail_ratio and self._random.random() < self.fail_ratio:
            return "451 4.3.0 Temporary failure, try again later"
        return None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.user.encode()
            and data.password == self.password.encode()
        )
        return AuthResult(success=ok, handled=False)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) to connect to."""
        return self.host, self.port


def main(argv: list[str] | None = None) -> None:
    """Run a sink in the foreground and print every message that arrives."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.smtp", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--starttls", action="store_true", help="require STARTTLS (self-signed)")
    parser.add_argument("--tls", action="store_true", help="implicit TLS (SMTPS, self-signed)")
    parser.add_argument("--auth", action="store_true", help="require AUTH as tidings / sink-password")
    parser.add_argument("--fail-ratio", type=float, default=0.0, help="answer 451 to this fraction")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="print one line per message, no body")
    args = parser.parse_args(argv)

    def show(mail: ReceivedMail) -> None:
        print(f"--- from {mail.mail_from} to {', '.join(mail.rcpt_tos)} ({len(mail.data)} bytes)", flush=True)
        if not args.quiet:
            print(mail.data.decode("utf-8", "replace"), flush=True)

    sink = SmtpSink(
        host=args.host,
        port=args.port,
        starttls=args.starttls,
        implicit_tls=args.tls,
        auth=args.auth,
        fail_ratio=args.fail_ratio,
        seed=args.seed,
        on_message=show,
    )
    with sink:
        print(f"SMTP sink listening on {sink.host}:{sink.port} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
