"""Make real Postfix bounces: run a private Postfix instance, send it mail it cannot deliver, keep its DSNs.

    sudo .venv/bin/python -m tests.support.postfix_samples [--out tests/reference/feedback]

What it does (Postfix 3.x from Debian; root, because Postfix's daemons start as root and drop to
``postfix``): it writes a ``main.cf``/``master.cf`` into a temporary directory (its own queue, no
chroot, no DNS, ``maximal_queue_lifetime = 0`` so a temporary failure bounces after one try), starts
``postfix -c <dir> start`` with ``smtpd`` on a free 127.0.0.1 port, and two aiosmtpd sinks: the "remote"
MX of ``remote.test`` (which refuses some recipients at RCPT and DATA) and the MX of the bounce domain
``tidings.test`` (which keeps what arrives). It then submits e-mails composed by Tidings' own e-mail
channel, with the VERP envelope sender of a known delivery id (signed with the test suite's
``TIDINGS_SECRET_KEY``), and writes each DSN Postfix's ``bounce`` daemon sends back to
``postfix-<case>.eml``, byte for byte as it arrived over SMTP. The instance is stopped and its directory
removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from channels.email import compose
from host.access.bounce_addresses import BounceAddresses
from host.plugins.channel import Message
from tests.fakes.smtp import SmtpSink, free_port
from tests.support.configs import TEST_SECRET_KEY

#: the dispatch id of every sample's delivery (tests insert deliveries with these ids)
DISPATCH_ID = "6560f00dcafe0123456789ab"
#: case → (user id, recipient, what the remote MX answers)
CASES: dict[str, tuple[str, str, str]] = {
    "user-unknown": (
        "postfix-hard",
        "nobody@remote.test",
        "550 5.1.1 <nobody@remote.test>: Recipient address rejected: User unknown",
    ),
    "mailbox-full": ("postfix-soft", "full@remote.test", "452 4.2.2 <full@remote.test>: Mailbox full"),
    "policy-rejection": ("postfix-policy", "picky@remote.test", "554 5.7.1 Message rejected as spam"),
}

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.postfix.test
mydomain = postfix.test
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
transport_maps = inline:{{ remote.test=smtp:[127.0.0.1]:{remote} tidings.test=smtp:[127.0.0.1]:{bounces} }}
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = no
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
"""

MASTER_CF = """\
127.0.0.1:{smtpd} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def delivery_id(user_id: str) -> str:
    """The delivery id of a sample's e-mail."""
    return f"{DISPATCH_ID}:email:{user_id}"


def _postfix(root: Path, command: str) -> None:
    # postfix(1) writes its errors to stderr only when that is a terminal: `script` gives it one
    done = subprocess.run(
        ["script", "-qec", f"postfix -c {root / 'etc'} {command}", "/dev/null"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        log = root / "maillog"
        sys.exit(
            f"postfix {command} failed:\n{done.stdout}{done.stderr}{log.read_text() if log.exists() else ''}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "reference" / "feedback")
    args = parser.parse_args(argv)
    if shutil.which("postfix") is None:
        sys.exit("postfix is not installed (Debian: apt-get install postfix)")
    addresses = BounceAddresses(TEST_SECRET_KEY, "tidings.test")
    root = Path(tempfile.mkdtemp(prefix="tidings-postfix-"))
    root.chmod(0o755)  # the daemons run as `postfix` and must reach their queue and data directories
    with SmtpSink() as remote, SmtpSink() as bounces:
        for _case, (_user, recipient, reply) in CASES.items():
            if reply.startswith("554"):
                remote.refuse_data(recipient, reply=reply)
            else:
                remote.refuse(recipient, reply=reply)
        smtpd = free_port()
        (root / "etc").mkdir()
        (root / "etc" / "main.cf").write_text(
            MAIN_CF.format(root=root, remote=remote.port, bounces=bounces.port)
        )
        (root / "etc" / "master.cf").write_text(MASTER_CF.format(smtpd=smtpd))
        for folder in ("spool", "data"):
            (root / folder).mkdir()
        shutil.chown(root / "data", "postfix", "postfix")
        subprocess.run(
            ["postfix", "-c", str(root / "etc"), "set-permissions"], check=False, capture_output=True
        )
        _postfix(root, "check")
        _postfix(root, "start")
        try:
            _submit(addresses, smtpd)
            deadline = time.monotonic() + 60
            while len(bounces.received) < len(CASES) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            _postfix(root, "stop")
            log = (root / "maillog").read_text() if (root / "maillog").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
        if len(bounces.received) < len(CASES):
            sys.exit(f"only {len(bounces.received)} of {len(CASES)} bounces arrived; Postfix's log:\n{log}")
        by_user = {addresses.read(mail.rcpt_tos[0]).rsplit(":", 1)[1]: mail for mail in bounces.received}
        for case, (user_id, _, _) in CASES.items():
            mail = by_user[user_id]
            assert mail.mail_from in ("", "<>"), f"a DSN has a null envelope sender, not {mail.mail_from!r}"
            path = args.out / f"postfix-{case}.eml"
            path.write_bytes(mail.data)
            print(f"{path}: {len(mail.data)} bytes, to {mail.rcpt_tos[0]}")


def _submit(addresses: BounceAddresses, port: int) -> None:
    """Send each case's e-mail as Tidings composes it, from its VERP address."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for case, (user_id, recipient, _) in CASES.items():
            sender = addresses.envelope_sender(delivery_id(user_id))
            message = Message(
                subject=f"Sample for the {case} bounce",
                text="Hello,\nthis message is made to bounce.\n",
                envelope_sender=sender,
            )
            envelope = compose(message, recipient, "Tidings <noreply@tidings.test>")
            client.sendmail(envelope.sender, [envelope.recipient], envelope.data)


if __name__ == "__main__":
    main()
