"""The recorder: bounces and complaints that come back over SMTP move their deliveries, suppress their
addresses, opt complainers out and are posted as events; Tidings sends to a sink that refuses some mail and
bounces some back later, as DSNs and abuse reports, to its own bounce listener.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.support.feedback import (
    DOMAIN,
    SOFT_LIMIT,
    VERP,
    Feedback,
    by_user,
    dsn_for,
    events_of,
    news,
    people,
    sent_delivery,
    smtp_to_listener,
)
from tests.support.waiting import eventually


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
