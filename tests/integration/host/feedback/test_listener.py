"""The bounce listener over SMTP: real Postfix bounces and the RFCs' examples recorded through it; mail for
other domains and oversized mail refused, and the listener still there after.
"""

from __future__ import annotations

from collections.abc import Callable

import aiosmtplib
import pytest

from tests.support.feedback import (
    DOMAIN,
    MAX_MESSAGE,
    SAMPLES,
    VERP,
    Feedback,
    delivery,
    dsn_for,
    last_mail,
    sent_delivery,
    smtp_to_listener,
)
from tests.support.postfix_samples import CASES
from tests.support.postfix_samples import delivery_id as postfix_delivery


async def test_postfix_bounces_are_recorded_through_the_listener(feedback: Feedback) -> None:
    """DSNs written by Postfix's own bounce daemon (tests/support/postfix_samples.py)."""
    stack = feedback.stack
    expected = {  # case → (status of the delivery, code, suppressed for)
        "user-unknown": ("bounced", "5.1.1", ["hard-bounce"]),
        "mailbox-full": ("bounced", "4.2.2", None),  # one soft bounce: under the limit
        "policy-rejection": ("bounced", "5.7.1", ["hard-bounce"]),
    }
    for case, (user_id, recipient, _) in CASES.items():
        delivery_id = postfix_delivery(user_id)
        await stack.db["suppressions"].delete_one({"_id": recipient})
        await sent_delivery(stack, delivery_id, recipient)
        raw = (SAMPLES / f"postfix-{case}.eml").read_bytes()
        verp = VERP.envelope_sender(delivery_id)
        assert f"To: {verp}".encode() in raw  # Postfix bounced it to the VERP address it was sent from
        assert await smtp_to_listener(feedback, verp, raw) == (250, "2.0.0 OK: report stored")
        mail = await last_mail(feedback)
        assert (mail["state"], mail.get("raw")) == ("recorded", None)
        found = await delivery(stack, delivery_id)
        status, code, suppressed = expected[case]
        assert (found["status"], found["last_error"]["code"]) == (status, code)
        held = await stack.runtime.suppressions.get(recipient)
        assert (held or {}).get("reasons") == suppressed


async def test_the_rfc_examples_are_recorded_through_the_listener(feedback: Feedback) -> None:
    stack = feedback.stack
    # RFC 3464 D.1: a failure after 5 days of 4.0.0 deferrals is a soft bounce
    simple = f"{'0' * 23}1:email:rfc-simple"
    await sent_delivery(stack, simple, "louisl@larry.slip.umd.edu")
    raw = (SAMPLES / "rfc3464-simple.eml").read_bytes()
    assert (await smtp_to_listener(feedback, VERP.envelope_sender(simple), raw))[0] == 250
    found = await delivery(stack, simple)
    assert (found["status"], found["last_error"]["code"]) == ("bounced", "4.0.0")

    # RFC 3464 D.2: three recipients; the VERP delivery's one failed (5.0.0), one is delayed (not a bounce),
    # and the third is someone else's: recorded for the delivery only, the rest said in the reason
    multi = f"{'0' * 23}2:email:rfc-multi"
    await sent_delivery(stack, multi, "arathib@vnet.ibm.com")
    raw = (SAMPLES / "rfc3464-multi-recipient.eml").read_bytes()
    assert (await smtp_to_listener(feedback, VERP.envelope_sender(multi), raw))[0] == 250
    found = await delivery(stack, multi)
    assert (found["status"], found["last_error"]["code"]) == ("bounced", "5.0.0")
    assert "registered gateway user" in found["last_error"]["message"]
    mail = await last_mail(feedback)
    assert mail["state"] == "recorded" and "wsnell@sdcc13.ucsd.edu" in mail["reason"]
    assert await stack.runtime.suppressions.get("wsnell@sdcc13.ucsd.edu") is None

    # RFC 5965 B.1: an abuse report to the feedback-loop address, found by the original Message-ID
    arf = f"{'0' * 23}3:email:rfc-arf"
    await sent_delivery(
        stack, arf, "reader@example.net", provider_id="<8787KJKJ3K4J3K4J3K4J3.mail@example.net>"
    )
    raw = (SAMPLES / "rfc5965-abuse.eml").read_bytes()
    assert (await smtp_to_listener(feedback, f"fbl@{DOMAIN}", raw))[0] == 250
    found = await delivery(stack, arf)
    assert (found["status"], found["last_error"]["code"]) == ("complained", "abuse")
    assert (await stack.runtime.suppressions.get("reader@example.net") or {}).get("reasons") == ["complaint"]
    [opt_out] = await stack.runtime.opt_outs.of_user("rfc-arf")
    assert (opt_out["channel"], opt_out["source"]) == ("email", "complaint")


async def test_other_domains_and_oversized_mail_are_refused_and_the_listener_goes_on(
    feedback: Feedback, unique: Callable[[str], str]
) -> None:
    stack = feedback.stack
    delivery_id = f"{'0' * 23}8:email:{unique('rf')}"
    address = f"{unique('refused')}@example.org"
    await sent_delivery(stack, delivery_id, address)
    token = VERP.envelope_sender(delivery_id)
    with pytest.raises(aiosmtplib.SMTPRecipientRefused) as other_domain:
        await smtp_to_listener(feedback, "someone@elsewhere.example", dsn_for(address))
    assert other_domain.value.code == 550
    big = b"Subject: big\r\n\r\n" + (b"x" * 76 + b"\r\n") * (MAX_MESSAGE // 78 + 10)
    with pytest.raises(aiosmtplib.SMTPDataError) as too_big:  # over bounces.maxMessageBytes
        await smtp_to_listener(feedback, token, big)
    assert too_big.value.code == 552
    assert (await delivery(stack, delivery_id))["status"] == "sent"

    # the listener is still there, and the genuine DSN of that delivery is recorded
    assert (await smtp_to_listener(feedback, token, dsn_for(address)))[0] == 250
    assert (await delivery(stack, delivery_id))["status"] == "bounced"
