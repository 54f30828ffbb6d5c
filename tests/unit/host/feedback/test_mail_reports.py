"""Reading DSNs and ARF reports: the RFCs' own examples, real Postfix bounces, and mail that is neither."""

from __future__ import annotations

import base64

import pytest

from host.feedback.mail_reports import UnreadableMail, read_report
from tests.support.paths import FEEDBACK_SAMPLES as SAMPLES


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_rfc3464_simple_dsn_is_a_soft_failure() -> None:
    reading = read_report(sample("rfc3464-simple.eml"))
    [recipient] = reading.recipients
    assert reading.kind == "dsn"
    assert (recipient.action, recipient.status, recipient.severity) == ("failed", "4.0.0", "soft")
    assert recipient.addresses == ("louisl@larry.slip.umd.edu",)
    assert recipient.diagnostic == "smtp; 426 connection timed out"


def test_rfc3464_multi_recipient_dsn_reads_every_block() -> None:
    reading = read_report(sample("rfc3464-multi-recipient.eml"))
    assert [(r.final, r.action, r.status, r.bounced) for r in reading.recipients] == [
        ("arathib@vnet.ibm.com", "failed", "5.0.0", True),  # "5.0.0 (permanent failure)"
        ("johnh@hpnjld.njd.hp.com", "delayed", "4.0.0", False),
        ("wsnell@sdcc13.ucsd.edu", "failed", "5.0.0", True),
    ]
    # a folded Diagnostic-Code is read as one line
    assert (
        reading.recipients[0].diagnostic
        == "smtp; 550 'arathib@vnet.IBM.COM' is not a registered gateway user"
    )


def test_rfc5965_abuse_report_is_a_complaint_with_the_original_message_id() -> None:
    reading = read_report(sample("rfc5965-abuse.eml"))
    assert (reading.kind, reading.feedback_type, reading.complaint) == ("arf", "abuse", True)
    assert reading.original_message_id == "8787KJKJ3K4J3K4J3K4J3.mail@example.net"


@pytest.mark.parametrize(
    ("name", "status", "severity", "recipient"),
    [
        ("postfix-user-unknown.eml", "5.1.1", "hard", "nobody@remote.test"),
        ("postfix-mailbox-full.eml", "4.2.2", "soft", "full@remote.test"),
        ("postfix-policy-rejection.eml", "5.7.1", "hard", "picky@remote.test"),
    ],
)
def test_postfix_bounces(name: str, status: str, severity: str, recipient: str) -> None:
    reading = read_report(sample(name))
    [block] = reading.recipients
    assert (block.action, block.status, block.severity, block.final) == (
        "failed",
        status,
        severity,
        recipient,
    )
    # the returned message is whole: its Message-ID and the Return-Path (the VERP address) are there
    assert reading.original_message_id is not None and reading.original_message_id.endswith("@tidings.test>")
    assert reading.original_return_path is not None and reading.original_return_path.startswith("bounces+")


def _report(report_type: str, *parts: tuple[str, str, str]) -> bytes:
    lines = [f'Content-Type: multipart/report; report-type={report_type}; boundary="b"', ""]
    for content_type, headers, body in parts:
        lines += ["--b", f"Content-Type: {content_type}", *([headers] if headers else []), "", body]
    lines.append("--b--")
    return "\r\n".join(lines).encode()


STATUS = (
    "Reporting-MTA: dns; mx.example\r\n\r\n"
    "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1"
)


def test_a_base64_encoded_status_part_is_read_too() -> None:
    encoded = base64.b64encode(STATUS.encode()).decode()
    raw = _report(
        "delivery-status", ("message/delivery-status", "Content-Transfer-Encoding: base64", encoded)
    )
    [block] = read_report(raw).recipients
    assert (block.final, block.status) == ("a@example.org", "5.1.1")


def test_not_spam_and_auth_failure_reports_are_not_complaints() -> None:
    for feedback_type in ("not-spam", "auth-failure"):
        raw = _report(
            "feedback-report", ("message/feedback-report", "", f"Feedback-Type: {feedback_type}\r\n")
        )
        assert read_report(raw).complaint is False


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"From: a@example.org\r\nSubject: Out of office\r\n\r\nAway.\r\n", "not a report"),
        (bytes(range(256)) * 3, "not a report"),
        (b"", "not a report"),
        (_report("disposition-notification", ("text/plain", "", "read")), "neither delivery-status"),
        (_report("delivery-status", ("text/plain", "", "sorry")), "without a message/delivery-status part"),
        (
            _report("delivery-status", ("message/delivery-status", "", "Reporting-MTA: dns; x\r\n")),
            "no recipient block with an Action",
        ),
        (_report("feedback-report", ("text/plain", "", "spam!")), "without a message/feedback-report"),
        (
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\n'
            b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Rec",
            "no recipient block with an Action",
        ),
    ],
)
def test_mail_that_is_no_report_is_refused_with_the_reason(raw: bytes, why: str) -> None:
    with pytest.raises(UnreadableMail, match=why):
        read_report(raw)
