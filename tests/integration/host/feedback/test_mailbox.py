"""The bounce mailbox: mail it cannot read or map is kept whole, a message it cannot store is 451, and mail
left unread (the process died) is read again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bson import ObjectId

from host.feedback.mailbox import TRY_LATER, BounceMailbox
from host.storage.documents import utcnow
from host.storage.store import Store
from tests.support.feedback import (
    DOMAIN,
    VERP,
    Feedback,
    delivery,
    dsn_for,
    last_mail,
    sent_delivery,
    smtp_to_listener,
)

#: bytes that are no mail at all (SMTP carries lines: CRLF between them, as sent)
GARBAGE = (
    b"\r\n".join(bytes(b for b in range(256) if b not in b"\r\n")[i : i + 60] for i in range(0, 254, 60))
    + b"\r\n"
)


async def test_mail_it_cannot_read_or_map_is_kept_whole_and_changes_nothing(
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

    # kept mail changes nothing: the genuine DSN of that delivery is still recorded
    assert (await smtp_to_listener(feedback, token, dsn_for("kept@example.org")))[0] == 250
    assert (await delivery(stack, genuine))["status"] == "bounced"


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
