"""Bounces and complaints over SMTP both ways: Tidings sends to a sink that refuses some mail and bounces
some back later, as DSNs and abuse reports, to Tidings' own bounce listener; the suppression list follows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
from bson import ObjectId

from host.access.bounce_addresses import BounceAddresses
from host.feedback.mailbox import TRY_LATER, BounceMailbox
from host.storage.documents import utcnow
from host.storage.store import Store
from tests.fakes.dsn import delivery_status_notification
from tests.fakes.webhook import WebhookReceiver
from tests.integration.host.feedback.conftest import DOMAIN, MAX_MESSAGE, SOFT_LIMIT, Feedback
from tests.samples.feedback.make_postfix_samples import CASES
from tests.samples.feedback.make_postfix_samples import delivery_id as postfix_delivery
from tests.support.configs import TEST_SECRET_KEY
from tests.support.stacks import Stack
from tests.support.waiting import eventually

VERP = BounceAddresses(TEST_SECRET_KEY, DOMAIN)


async def people(stack: Stack, unique: Callable[[str], str], *names: str) -> dict[str, tuple[str, str]]:
    """A user per name: name → (user id, address). Ids of up to 16 bytes fit in a VERP token."""
    found = {name: (unique(name[:4]), f"{unique(name)}@example.org") for name in names}
    await stack.add_users(*({"fiscalCode": uid, "mail": mail, "groups": []} for uid, mail in found.values()))
    return found


async def by_user(stack: Stack, dispatch_id: str) -> dict[str, dict[str, Any]]:
    return {d["userId"]: d for d in await stack.deliveries(dispatch_id)}


def news(*uids: str) -> dict[str, Any]:
    return {
        "channels": ["email"],
        "recipients": list(uids),
        "messageTitle": "News",
        "messageContent": "Hello",
    }


def events_of(receiver: WebhookReceiver, dispatch_id: str) -> dict[str, str]:
    """event id → type, of the posts about this dispatch's deliveries."""
    return {
        str(post.body["id"]): str(post.body["type"])
        for post in receiver.accepted()
        if post.body and str(post.body["id"]).startswith(dispatch_id)
    }


async def test_bounces_and_complaints_come_back_over_smtp_and_suppress(
    feedback: Feedback, unique: Callable[[str], str]
) -> None:
    stack, sink = feedback.stack, feedback.sink
    who = await people(stack, unique, "ok", "rcpt", "data", "hard", "soft", "complaint")
    # a user id too long for a VERP token: its mail comes from bounces@, its bounce is found by Message-ID
    long_id = unique("a-user-id-longer-than-sixteen-bytes")
    long_address = f"{long_id}@example.org"
    await stack.add_users({"fiscalCode": long_id, "mail": long_address, "groups": []})
    sink.bounce_later(long_address)
    sink.refuse(who["rcpt"][1])  # 550 5.1.1 at RCPT: refused while Tidings is still talking
    sink.refuse_data(who["data"][1])  # 550 5.7.1 at DATA: about the message, not the address
    sink.bounce_later(who["hard"][1])  # accepted, then a DSN: 5.1.1 user unknown
    sink.bounce_later(who["soft"][1], status="4.2.2", diagnostic="452 4.2.2 mailbox full")
    sink.complain_later(who["complaint"][1], to=f"fbl@{DOMAIN}")

    result = await stack.send(news(*(uid for uid, _ in who.values()), long_id))
    dispatch_id = result["dispatchId"]
    assert result["failures"] == []
    await stack.wait_settled(dispatch_id)
    await eventually(lambda: len(sink.reports_sent) >= 4, timeout=20, what="the sink's four reports")
    assert sorted(r.kind for r in sink.reports_sent) == ["arf", "dsn", "dsn", "dsn"]
    assert all(r.reply.startswith("250") for r in sink.reports_sent), sink.reports_sent
    await stack.runtime.bounce_mail.tick()  # reports that came back before their delivery was recorded

    # every e-mail's envelope sender is its delivery's signed VERP address; the visible From is unchanged
    mails = {mail.rcpt_tos[0]: mail for mail in sink.received}
    for name in ("ok", "hard", "soft", "complaint"):
        uid, address = who[name]
        mail = mails[address]
        assert mail.mail_from.startswith("bounces+") and mail.mail_from.endswith(f"@{DOMAIN}")
        assert VERP.read(mail.mail_from) == f"{dispatch_id}:email:{uid}"
        assert mail.message["From"] == f"Tidings <noreply@{DOMAIN}>"
        assert mail.message["Return-Path"] is None  # written by the last MTA, from MAIL FROM
    assert mails[long_address].mail_from == f"bounces@{DOMAIN}"

    deliveries = await by_user(stack, dispatch_id)
    status = {name: deliveries[uid]["status"] for name, (uid, _) in who.items()}
    assert status == {
        "ok": "sent",
        "rcpt": "failed",
        "data": "failed",
        "hard": "bounced",
        "soft": "bounced",
        "complaint": "complained",
    }
    assert deliveries[long_id]["status"] == "bounced"
    hard = deliveries[who["hard"][0]]["lastError"]
    assert hard["code"] == "5.1.1" and "hard bounce" in hard["message"] and "user unknown" in hard["message"]
    soft = deliveries[who["soft"][0]]["lastError"]
    assert soft["code"] == "4.2.2" and soft["message"].startswith("soft bounce")
    assert deliveries[who["complaint"][0]]["lastError"]["code"] == "abuse"

    # hard bounces (the DSN's, and the 5.1.1 refused at RCPT) and the complaint suppress at once; the first
    # soft bounce does not (limit 2); the 5.7.1 refused at DATA does not
    listed = (await stack.client.get("/suppressions", params={"search": unique("")})).json()["items"]
    reasons = {item["address"]: [r["reason"] for r in item["reasons"]] for item in listed}
    assert reasons == {
        who["rcpt"][1]: ["hard-bounce"],
        who["hard"][1]: ["hard-bounce"],
        who["complaint"][1]: ["complaint"],
        long_address: ["hard-bounce"],
    }
    detail = (await stack.client.get(f"/suppressions/{who['hard'][1]}")).json()
    [why] = detail["reasons"]
    assert (why["source"], why["status"], why["deliveryId"]) == (
        "smtp",
        "5.1.1",
        f"{dispatch_id}:email:{who['hard'][0]}",
    )
    assert [(r["kind"], r["severity"], r["state"]) for r in detail["reports"]] == [
        ("bounce", "hard", "recorded")
    ]
    refused = (await stack.client.get(f"/suppressions/{who['rcpt'][1]}")).json()["reasons"][0]
    assert (refused["source"], refused["status"]) == ("smtp-reply", "5.1.1")
    # the complaint also opted the user out of e-mail
    [opt_out] = (await stack.client.get(f"/users/{who['complaint'][0]}/opt-outs")).json()["items"]
    assert (opt_out["channel"], opt_out["source"]) == ("email", "complaint")

    # the moves are events, posted to the webhook
    moved = {
        f"{dispatch_id}:email:{who['hard'][0]}:bounced",
        f"{dispatch_id}:email:{who['soft'][0]}:bounced",
        f"{dispatch_id}:email:{who['complaint'][0]}:complained",
    }
    await eventually(
        lambda: moved <= set(events_of(feedback.receiver, dispatch_id)), timeout=20, what="the moves' events"
    )
    types = events_of(feedback.receiver, dispatch_id)
    assert types[f"{dispatch_id}:email:{who['hard'][0]}:bounced"] == "delivery.bounced"
    assert types[f"{dispatch_id}:email:{who['soft'][0]}:bounced"] == "delivery.bounced"
    assert types[f"{dispatch_id}:email:{who['complaint'][0]}:complained"] == "delivery.complained"

    # the next dispatch: suppressed and opted-out users are in the failures, like an opt-out
    sink.bounce_later(who["soft"][1], status="4.2.2", diagnostic="452 4.2.2 mailbox full")
    again = await stack.send(news(who["hard"][0], who["complaint"][0], who["soft"][0], who["ok"][0]))
    failures = {f["userId"]: f["error"] for f in again["failures"]}
    assert failures == {
        who["hard"][0]: "the address is suppressed (hard-bounce)",
        who["complaint"][0]: "the user opted out of email",
    }
    await stack.wait_settled(again["dispatchId"])
    skipped = (await by_user(stack, again["dispatchId"]))[who["hard"][0]]
    assert (skipped["status"], skipped["lastError"]["code"]) == ("skipped", "suppressed")
    # the second soft bounce within the window suppresses the address
    await eventually(lambda: len(sink.reports_sent) >= 5, timeout=20, what="the second soft bounce")
    await stack.runtime.bounce_mail.tick()
    soft_now = (await stack.client.get(f"/suppressions/{who['soft'][1]}")).json()
    assert [(r["reason"], r["count"]) for r in soft_now["reasons"]] == [("soft-bounces", SOFT_LIMIT)]

    read = await stack.runtime.bounce_mail.recent(limit=100)
    assert [m["state"] for m in read if m["state"] not in ("recorded",)] == [], read  # all read, none kept

    metrics = (await stack.client.get("/metrics")).text
    assert 'tidings_suppressions{reason="hard-bounce"}' in metrics
    assert 'tidings_feedback_reports_total{kind="complaint",source="smtp"}' in metrics


async def test_transactional_mail_is_suppressed_for_hard_bounces_but_not_for_complaints(
    feedback: Feedback, unique: Callable[[str], str]
) -> None:
    stack = feedback.stack
    who = await people(stack, unique, "gone", "complainer", "tired")
    await stack.runtime.suppressions.add(who["gone"][1], "hard-bounce", {"source": "smtp"})
    await stack.runtime.suppressions.add(who["complainer"][1], "complaint", {"source": "ses"})
    await stack.runtime.suppressions.add(who["tired"][1], "soft-bounces", {"source": "smtp"})
    created = await stack.client.post(
        "/templates",
        json={
            "name": unique("reset"),
            "category": "transactional",
            "emailTitle": "Reset",
            "emailMessage": "Go",
        },
    )
    assert created.status_code == 201, created.text
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [uid for uid, _ in who.values()],
            "templateId": created.json()["id"],
        }
    )
    assert {f["userId"]: f["error"] for f in result["failures"]} == {
        who["gone"][0]: "the address is suppressed (hard-bounce)",
        who["tired"][0]: "the address is suppressed (soft-bounces)",
    }
    await stack.wait_settled(result["dispatchId"])
    assert (await by_user(stack, result["dispatchId"]))[who["complainer"][0]]["status"] == "sent"


async def test_a_suppression_recorded_after_the_fan_out_still_wins_at_send_time(
    feedback: Feedback, unique: Callable[[str], str]
) -> None:
    stack = feedback.stack
    [(uid, address)] = (await people(stack, unique, "late")).values()
    ids = {}
    for category in (None, "transactional"):
        dispatch_id = unique(f"late-{category}")
        await stack.db["dispatches"].insert_one(
            {
                "_id": dispatch_id,
                "channels": ["email"],
                "recipients": [uid],
                "clusters": [],
                "title": "Planned before",
                "content": "the bounce",
                "category": category,
                "state": "expanded",
                "created_at": utcnow(),
            }
        )
        ids[category] = f"{dispatch_id}:email:{uid}"
        await stack.db["deliveries"].insert_one(
            {
                "_id": ids[category],
                "dispatch_id": dispatch_id,
                "channel": "email",
                "user_id": uid,
                "address": address.upper(),  # suppressions ignore case
                "status": "queued",
                "attempts": 0,
                "created_at": utcnow(),
                "updated_at": utcnow(),
            }
        )
    await stack.runtime.suppressions.add(address, "complaint", {"source": "mailgun"})

    await stack.runtime.delivery.deliver("email", list(ids.values()))  # the worker, on the test loop

    skipped = await stack.db["deliveries"].find_one({"_id": ids[None]})
    assert skipped["status"] == "skipped" and skipped["last_error"]["code"] == "suppressed"
    assert skipped["last_error"]["message"] == "the address is suppressed (complaint)"
    assert (await stack.db["deliveries"].find_one({"_id": ids["transactional"]}))["status"] == "sent"


async def smtp_to_listener(feedback: Feedback, rcpt_to: str, data: bytes) -> tuple[int, str]:
    """Deliver ``data`` to the bounce listener as an MTA does (null sender); (code, message) of DATA."""
    listener = feedback.listener
    async with aiosmtplib.SMTP(hostname=listener.host, port=listener.port, timeout=10) as client:
        await client.mail("")
        await client.rcpt(rcpt_to)
        response = await client.data(data)
    return response.code, response.message


SAMPLES = Path(__file__).parents[3] / "samples" / "feedback"


async def sent_delivery(
    stack: Stack, delivery_id: str, address: str, provider_id: str | None = None
) -> dict[str, Any]:
    """A delivery as the worker leaves it once its e-mail is sent (replacing one of the same id)."""
    dispatch_id, _, user_id = delivery_id.split(":", 2)
    now = utcnow()
    doc = {
        "_id": delivery_id,
        "dispatch_id": dispatch_id,
        "channel": "email",
        "user_id": user_id,
        "address": address,
        "status": "sent",
        "attempts": 1,
        "created_at": now,
        "updated_at": now,
        "sent_at": now,
        "provider_id": provider_id or f"<{user_id}@{DOMAIN}>",
    }
    await stack.db["deliveries"].replace_one({"_id": delivery_id}, doc, upsert=True)
    return doc


async def delivery(stack: Stack, delivery_id: str) -> dict[str, Any]:
    found = await stack.db["deliveries"].find_one({"_id": delivery_id})
    assert found is not None
    return found


async def last_mail(feedback: Feedback) -> dict[str, Any]:
    [doc] = await feedback.stack.runtime.bounce_mail.recent(limit=1)
    return doc


async def test_postfix_bounces_are_recorded_through_the_listener(feedback: Feedback) -> None:
    """DSNs written by Postfix's own bounce daemon (tests/samples/feedback/make_postfix_samples.py)."""
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


#: bytes that are no mail at all (SMTP carries lines: CRLF between them, as sent)
GARBAGE = (
    b"\r\n".join(bytes(b for b in range(256) if b not in b"\r\n")[i : i + 60] for i in range(0, 254, 60))
    + b"\r\n"
)


def dsn_for(recipient: str, status: str = "5.1.1") -> bytes:
    original = f"From: noreply@{DOMAIN}\r\nTo: {recipient}\r\nMessage-ID: <x@{DOMAIN}>\r\n\r\nHi\r\n".encode()
    return delivery_status_notification(
        original, mail_from="bounces@x", recipient=recipient, status=status, diagnostic=f"{status} no"
    )


async def test_mail_it_cannot_read_or_map_is_kept_whole_and_the_listener_goes_on(
    feedback: Feedback, unique: Callable[[str], str]
) -> None:
    stack = feedback.stack
    genuine = f"{'0' * 23}4:email:{unique('kp')}"
    await sent_delivery(stack, genuine, "kept@example.org")
    token = VERP.envelope_sender(genuine)
    forged = (
        token[: token.index("@") - 3]
        + ("aaa" if not token.endswith("aaa@" + DOMAIN) else "bbb")
        + "@"
        + DOMAIN
    )
    unknown = VERP.envelope_sender(f"{'0' * 23}5:email:nobody")
    cases = {
        "not a report": (token, b"From: someone@example.org\r\nSubject: out of office\r\n\r\nI am away.\r\n"),
        "no status part": (
            token,
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nsorry\r\n--b--\r\n",
        ),
        "binary garbage": (token, GARBAGE),
        "forged token": (forged, dsn_for("kept@example.org")),
        "unknown delivery": (unknown, dsn_for("nobody@example.org")),
    }
    reasons = {}
    for name, (rcpt_to, data) in cases.items():
        assert (await smtp_to_listener(feedback, rcpt_to, data))[0] == 250, name
        mail = await last_mail(feedback)
        assert mail["state"] == "kept", (name, mail)
        stored = await stack.runtime.bounce_mail.get(str(mail["_id"]))
        assert stored is not None and stored["raw"] == data  # whole, byte for byte
        reasons[name] = mail["reason"]
    assert "not a report" in reasons["not a report"]
    assert "without a message/delivery-status part" in reasons["no status part"]
    assert "signature does not match" in reasons["forged token"]
    assert "no delivery" in reasons["unknown delivery"] and "nobody" in reasons["unknown delivery"]
    assert (await delivery(stack, genuine))["status"] == "sent"  # nothing was applied to it
    assert await stack.runtime.suppressions.get("kept@example.org") is None
    listed = await stack.runtime.bounce_mail.recent("kept", limit=len(cases))
    assert len(listed) == len(cases) and all("raw" not in doc for doc in listed)

    # a recipient at another domain, and a message over bounces.maxMessageBytes, are refused over SMTP
    try:
        await smtp_to_listener(feedback, "someone@elsewhere.example", dsn_for("x@example.org"))
    except aiosmtplib.SMTPRecipientRefused as refused:
        assert refused.code == 550
    else:
        raise AssertionError("a recipient at another domain was accepted")
    try:
        big = b"Subject: big\r\n\r\n" + (b"x" * 76 + b"\r\n") * (MAX_MESSAGE // 78 + 10)
        await smtp_to_listener(feedback, token, big)
    except aiosmtplib.SMTPDataError as too_big:
        assert too_big.code == 552
    else:
        raise AssertionError("an oversized message was accepted")

    # the listener is still there, and the genuine DSN of that delivery is recorded
    assert (await smtp_to_listener(feedback, token, dsn_for("kept@example.org")))[0] == 250
    assert (await delivery(stack, genuine))["status"] == "bounced"


async def test_a_dsn_received_twice_counts_once(feedback: Feedback, unique: Callable[[str], str]) -> None:
    stack = feedback.stack
    delivery_id = f"{'0' * 23}6:email:{unique('tw')}"
    address = f"{unique('twice')}@example.org"
    await sent_delivery(stack, delivery_id, address)
    data = dsn_for(address, status="4.2.2")
    for _ in range(2):  # an MTA that lost our 250 sends it again
        assert (await smtp_to_listener(feedback, VERP.envelope_sender(delivery_id), data))[0] == 250
    [report] = await stack.runtime.feedback.of_address(address)
    assert (report["severity"], report["state"]) == ("soft", "recorded")
    assert await stack.runtime.suppressions.get(address) is None  # one soft bounce, not SOFT_LIMIT


async def test_a_message_that_cannot_be_stored_is_451_and_mail_left_unread_is_read_again(
    feedback: Feedback, unique: Callable[[str], str]
) -> None:
    stack = feedback.stack
    # the database refuses the write (here a unique index the message breaks; an outage takes the same
    # path): nothing is stored, so the listener must not say 250
    refusing = Store(stack.runtime.store.client, stack.settings)
    refusing.db = refusing.client[unique("refusing").replace("-", "_")]
    try:
        await refusing.db["bounce_mail"].create_index("mail_from", unique=True)
        await refusing.db["bounce_mail"].insert_one({"mail_from": ""})
        mailbox = BounceMailbox(refusing, stack.runtime.feedback, VERP)
        assert await mailbox.receive("", [f"fbl@{DOMAIN}"], dsn_for("x@example.org")) == TRY_LATER
        assert await refusing.db["bounce_mail"].count_documents({}) == 1
    finally:
        await refusing.client.drop_database(refusing.db.name)

    # a message stored, then not read (the process died): the feedback loop reads it
    delivery_id = f"{'0' * 23}7:email:{unique('cr')}"
    address = f"{unique('crash')}@example.org"
    await sent_delivery(stack, delivery_id, address)
    mail_id = ObjectId()
    await stack.db["bounce_mail"].insert_one(
        {
            "_id": mail_id,
            "mail_from": "",
            "rcpt_tos": [VERP.envelope_sender(delivery_id)],
            "raw": dsn_for(address),
            "state": "received",
            "received_at": utcnow() - timedelta(minutes=5),
        }
    )
    assert await stack.runtime.bounce_mail.run_once() >= 1
    assert (await stack.db["bounce_mail"].find_one({"_id": mail_id}))["state"] == "recorded"
    assert (await delivery(stack, delivery_id))["status"] == "bounced"
