"""End to end: POST /send → dispatch → outbox → Redis → worker → SMTP sink, on the development database:
rendered, with copies, each user once, and what cannot be sent named at once."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.stacks import Stack


async def test_email_reaches_the_inbox_rendered_with_cc_and_without_bcc(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("mario")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "name": "Mario", "groups": []})
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "Hello {{user.name}}",
            "messageContent": "Hello, {{user.name}}! Your appointment is dated {{data.appointmentDate}}",
            "data": {"appointmentDate": "01/01/2021"},
            "emailCarbonCopies": ["boss@example.org", "not-an-address"],
            "emailBlindCarbonCopies": ["secret@example.org"],
        }
    )
    assert result["failures"] == []
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}}

    [mail] = stack.mails_to(address)
    assert mail.message["Subject"] == "Hello Mario"
    assert mail.message["From"] == "noreply@tidings.test"
    assert "boss@example.org" in mail.message["Cc"]
    assert "not-an-address" not in mail.data.decode()
    assert b"secret@example.org" not in mail.data
    # the copies travel apart, without the user's unsubscribe link (tests/integration/host/templates)
    [copy] = [
        m
        for m in stack.mails_to("secret@example.org")
        if m.message["Message-ID"] == mail.message["Message-ID"]
    ]
    assert copy.rcpt_tos == ["boss@example.org", "secret@example.org"]
    assert mail.message.get_content().strip() == "Hello, Mario! Your appointment is dated 01/01/2021"
    [delivery] = await stack.deliveries(result["dispatchId"])
    assert delivery["status"] == "sent"
    assert delivery["attempts"] == 1
    assert delivery["providerId"]


async def test_recipients_and_clusters_are_deduplicated_and_failures_reported(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("group")
    both, only_cluster, no_mail, bad_mail = (unique(n) for n in ("both", "cl", "nomail", "badmail"))
    await stack.add_users(
        {"fiscalCode": both, "mail": f"{both}@example.org", "groups": [group]},
        {"fiscalCode": only_cluster, "mail": f"{only_cluster}@example.org", "groups": [group, "other"]},
        {"fiscalCode": no_mail, "groups": []},
        {"fiscalCode": bad_mail, "mail": "bad address", "groups": []},
    )
    ghost = unique("ghost")
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [both, both, no_mail, bad_mail, ghost],
            "clusters": [group],
            "messageTitle": "Hi",
            "messageContent": "Hi {{user.fiscalCode}}",
        }
    )
    failures = {(f["userId"], f["channel"]): f["error"] for f in result["failures"]}
    assert set(failures) == {(no_mail, "email"), (bad_mail, "email"), (ghost, "email")}
    assert "no emailAddress" in failures[(no_mail, "email")]
    assert "no user" in failures[(ghost, "email")]

    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"]["email"] == {"sent": 2, "skipped": 2, "failed": 1}
    assert len(stack.mails_to(f"{both}@example.org")) == 1
    assert len(stack.mails_to(f"{only_cluster}@example.org")) == 1
