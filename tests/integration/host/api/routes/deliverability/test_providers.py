"""The e-mail providers' webhooks over HTTP: Amazon SES through a fake SNS that signs with a test
certificate, SendGrid's Event Webhook and Mailgun's webhooks signed with test keys. Bad signatures are 403,
replays change nothing, bodies over 1 MB are 413, always in the API's error shape.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from host.feedback.mailgun import mailgun_signature
from host.feedback.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.support.feedback import DOMAIN, MAILGUN_KEY, TOPIC, VERP, Feedback, delivery, sent_delivery
from tests.support.stacks import Stack

ERROR_KEYS = {"statusCode", "error", "message"}


def new_delivery(unique: Callable[[str], str], tag: str) -> tuple[str, str]:
    """(delivery id, address) for a delivery of a fresh ObjectId-like dispatch."""
    return f"{secrets.token_hex(12)}:email:{unique(tag)}", f"{unique(tag)}@example.org"


def refused(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS and body["statusCode"] == str(status), body
    assert words in body["message"], body


# --- Amazon SES through SNS ---------------------------------------------------------------------------


def ses_bounce(
    source: str, address: str, bounce_type: str = "Permanent", message_id: str | None = None
) -> str:
    headers = [{"name": "Message-ID", "value": message_id}] if message_id else []
    return json.dumps(
        {
            "notificationType": "Bounce",
            "bounce": {
                "feedbackId": secrets.token_hex(16),
                "bounceType": bounce_type,
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": address,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 no",
                    }
                ],
                "timestamp": "2026-12-01T08:00:00.000Z",
            },
            "mail": {"source": source, "messageId": "ses-id", "destination": [address], "headers": headers},
        }
    )


def ses_complaint(source: str, address: str, message_id: str | None = None) -> str:
    headers = [{"name": "Message-ID", "value": message_id}] if message_id else []
    return json.dumps(
        {
            "notificationType": "Complaint",
            "complaint": {
                "feedbackId": secrets.token_hex(16),
                "complainedRecipients": [{"emailAddress": address}],
                "complaintFeedbackType": "abuse",
            },
            "mail": {"source": source, "headers": headers, "commonHeaders": {"messageId": message_id}},
        }
    )


async def post_sns(stack: Stack, message: dict[str, Any]) -> Any:
    return await stack.client.post(
        "/feedback/ses", content=json.dumps(message), headers={"x-amz-sns-message-type": message["Type"]}
    )


async def test_ses_subscription_is_confirmed_and_notifications_are_recorded(
    feedback: Feedback, unique: Callable[[str], str]
) -> None:
    stack, sns = feedback.stack, feedback.sns
    confirmation = sns.subscription_confirmation(TOPIC)
    answer = await post_sns(stack, confirmation)
    assert (answer.status_code, answer.json()) == (200, {"confirmed": True})
    assert confirmation["Token"] in sns.confirmed

    # a hard bounce found through mail.source (the VERP address SES was given), SignatureVersion 2
    hard_id, hard_address = new_delivery(unique, "sh")
    await sent_delivery(stack, hard_id, hard_address)
    bounce = sns.notification(TOPIC, ses_bounce(VERP.envelope_sender(hard_id), hard_address), version="2")
    answer = await post_sns(stack, bounce)
    assert (answer.status_code, answer.json()) == (200, {"recorded": 1}), answer.text
    assert (await delivery(stack, hard_id))["status"] == "bounced"
    assert (await stack.runtime.suppressions.get(hard_address) or {})["reasons"] == ["hard-bounce"]
    # SNS delivering the same notification again changes nothing
    assert (await post_sns(stack, bounce)).json() == {"duplicates": 1}

    # a complaint found through the original Message-ID (SES rewrote the envelope sender), version 1
    comp_id, comp_address = new_delivery(unique, "sc")
    await sent_delivery(stack, comp_id, comp_address, provider_id=f"<{unique('mid')}@{DOMAIN}>")
    message_id = (await delivery(stack, comp_id))["provider_id"]
    complaint = sns.notification(TOPIC, ses_complaint("bounces@ses.example", comp_address, message_id))
    assert (await post_sns(stack, complaint)).json() == {"recorded": 1}
    assert (await delivery(stack, comp_id))["status"] == "complained"
    # a Delivery notification is not a bounce
    delivered = sns.notification(TOPIC, json.dumps({"notificationType": "Delivery", "mail": {}}))
    assert (await post_sns(stack, delivered)).json() == {"ignored": 1}


async def test_an_ses_bounce_that_comes_before_the_result_waits_for_it(
    feedback: Feedback, unique: Callable[[str], str]
) -> None:
    stack, sns = feedback.stack, feedback.sns
    delivery_id, address = new_delivery(unique, "sw")
    message_id = f"<{unique('early')}@{DOMAIN}>"
    soft = sns.notification(TOPIC, ses_bounce("x@ses.example", address, "Transient", message_id))
    assert (await post_sns(stack, soft)).json() == {"waiting": 1}  # no delivery has that Message-ID yet
    await sent_delivery(stack, delivery_id, address, provider_id=message_id)  # the batch's results arrive
    assert await stack.runtime.feedback.run_once() >= 1
    found = await delivery(stack, delivery_id)
    assert (found["status"], found["last_error"]["code"]) == ("bounced", "5.1.1")
    assert "soft bounce" in found["last_error"]["message"]
    assert await stack.runtime.suppressions.get(address) is None  # 1 soft bounce < SOFT_LIMIT


async def test_ses_refuses_what_sns_did_not_sign(feedback: Feedback, unique: Callable[[str], str]) -> None:
    stack, sns = feedback.stack, feedback.sns
    delivery_id, address = new_delivery(unique, "sf")
    await sent_delivery(stack, delivery_id, address)
    body = ses_bounce(VERP.envelope_sender(delivery_id), address)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    genuine = sns.notification(TOPIC, body)
    cases = [  # (message, status, what the message names)
        (sns.sign({k: v for k, v in genuine.items() if k != "Signature"}, key=other_key), 403, "Signature:"),
        ({**genuine, "Message": body.replace("Permanent", "Transient")}, 403, "Signature: does not match"),
        (
            {**genuine, "SigningCertURL": "https://evil.example/cert.pem"},
            403,
            "SigningCertURL: 'https://evil",
        ),
        (
            {**genuine, "SigningCertURL": sns.cert_url.replace("127.0.0.1", "sns.evil")},
            403,
            "not on a trusted",
        ),
        ({**genuine, "SignatureVersion": "3"}, 403, "SignatureVersion: must be 1 or 2"),
        (sns.notification("arn:aws:sns:eu-west-1:1:other", body), 403, "TopicArn:"),
        ({k: v for k, v in genuine.items() if k != "Type"}, 400, "Type: must be one of"),
        (sns.sign({k: v for k, v in genuine.items() if k != "Timestamp"}), 400, "Timestamp: required"),
    ]
    for message, status, words in cases:
        refused(await stack.client.post("/feedback/ses", content=json.dumps(message)), status, words)
    refused(await stack.client.post("/feedback/ses", content=b"{not json"), 400, "body: not valid JSON")
    assert (await delivery(stack, delivery_id))["status"] == "sent"  # nothing was applied


async def test_bodies_over_one_megabyte_are_413(feedback: Feedback) -> None:
    big = b"[" + b" " * (1024 * 1024) + b"]"
    for path in ("/feedback/ses", "/feedback/sendgrid", "/feedback/mailgun"):
        refused(await feedback.stack.client.post(path, content=big), 413, "body: larger than 1048576 bytes")


# --- SendGrid -----------------------------------------------------------------------------------------


def sendgrid_post(
    feedback: Feedback, events: list[dict[str, Any]], at: float | None = None
) -> dict[str, Any]:
    body = json.dumps(events).encode()
    timestamp = str(int(at or time.time()))
    signature = feedback.sendgrid_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: timestamp}
    return {"content": body, "headers": headers}


async def test_sendgrid_events_are_recorded_once(feedback: Feedback, unique: Callable[[str], str]) -> None:
    stack = feedback.stack
    made = {}
    for tag in ("gh", "gs", "gc"):
        delivery_id, address = new_delivery(unique, tag)
        await sent_delivery(stack, delivery_id, address, provider_id=f"<{unique(tag + 'm')}@{DOMAIN}>")
        made[tag] = (delivery_id, address, (await delivery(stack, delivery_id))["provider_id"])

    def event(tag: str, kind: str, **extra: Any) -> dict[str, Any]:
        _, address, message_id = made[tag]
        return {"email": address, "event": kind, "sg_event_id": secrets.token_hex(8), "smtp-id": message_id,
                "timestamp": int(time.time()), **extra}  # fmt: skip

    events = [
        event("gh", "bounce", type="bounce", status="5.1.1", reason="550 5.1.1 unknown user"),
        event("gs", "bounce", type="blocked", status="4.0.0", reason="blocked for now"),
        event("gc", "spamreport"),
        event("gh", "delivered"),
        event("gh", "deferred"),
    ]
    answer = await stack.client.post("/feedback/sendgrid", **sendgrid_post(feedback, events))
    assert (answer.status_code, answer.json()) == (200, {"recorded": 3, "ignored": 2}), answer.text
    statuses = [(await delivery(stack, made[tag][0]))["status"] for tag in ("gh", "gs", "gc")]
    assert statuses == ["bounced", "bounced", "complained"]
    assert (await stack.runtime.suppressions.get(made["gh"][1]) or {})["reasons"] == ["hard-bounce"]
    assert (await stack.runtime.suppressions.get(made["gs"][1])) is None  # a soft bounce
    # SendGrid posting the batch again (freshly signed) records nothing twice
    again = await stack.client.post("/feedback/sendgrid", **sendgrid_post(feedback, events))
    assert again.json() == {"duplicates": 3, "ignored": 2}

    signed = sendgrid_post(feedback, events)
    refused(await stack.client.post("/feedback/sendgrid", content=signed["content"]), 403, SIGNATURE_HEADER)
    tampered = {**signed, "content": signed["content"].replace(b"spamreport", b"delivered!")}
    refused(await stack.client.post("/feedback/sendgrid", **tampered), 403, "does not match")
    stale = sendgrid_post(feedback, events, at=time.time() - 3600)
    refused(await stack.client.post("/feedback/sendgrid", **stale), 403, "replay window")
    other = ec.generate_private_key(ec.SECP256R1())
    other_signature = other.sign(
        signed["headers"][TIMESTAMP_HEADER].encode() + signed["content"], ec.ECDSA(hashes.SHA256())
    )
    forged = {
        **signed,
        "headers": {**signed["headers"], SIGNATURE_HEADER: base64.b64encode(other_signature).decode()},
    }
    refused(await stack.client.post("/feedback/sendgrid", **forged), 403, "does not match")
    not_a_list = sendgrid_post(feedback, {"event": "bounce"})  # type: ignore[arg-type]
    refused(await stack.client.post("/feedback/sendgrid", **not_a_list), 400, "body: must be a JSON array")


# --- Mailgun ------------------------------------------------------------------------------------------


def mailgun_body(event: dict[str, Any], token: str | None = None, at: float | None = None) -> bytes:
    timestamp = str(int(at or time.time()))
    token = token or secrets.token_hex(25)
    signature = {
        "timestamp": timestamp,
        "token": token,
        "signature": mailgun_signature(MAILGUN_KEY, timestamp, token),
    }
    return json.dumps({"signature": signature, "event-data": event}).encode()


def mailgun_event(kind: str, address: str, sender: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": secrets.token_urlsafe(16),
        "event": kind,
        "recipient": address,
        "timestamp": time.time(),
        "envelope": {"sender": sender, "transport": "smtp"},
        "message": {"headers": {}},
        **extra,
    }


async def test_mailgun_events_are_recorded_and_replays_refused(
    feedback: Feedback, unique: Callable[[str], str]
) -> None:
    stack = feedback.stack
    made = {}
    for tag in ("mh", "ms", "mt", "mc"):
        delivery_id, address = new_delivery(unique, tag)
        await sent_delivery(stack, delivery_id, address)
        made[tag] = (delivery_id, address, VERP.envelope_sender(delivery_id))

    def event(tag: str, kind: str, **extra: Any) -> dict[str, Any]:
        return mailgun_event(kind, made[tag][1], made[tag][2], **extra)

    hard = event(
        "mh", "failed", severity="permanent", **{"delivery-status": {"code": 550, "message": "no such user"}}
    )
    soft = event("ms", "failed", severity="permanent", reason="old", **{"delivery-status": {"code": 452}})
    temporary = event("mt", "failed", severity="temporary", **{"delivery-status": {"code": 451}})
    complaint = event("mc", "complained")
    answers = [
        (await stack.client.post("/feedback/mailgun", content=mailgun_body(e))).json()
        for e in (hard, soft, temporary, complaint)
    ]
    assert answers == [{"recorded": 1}, {"recorded": 1}, {"ignored": 1}, {"recorded": 1}]
    statuses = {tag: (await delivery(stack, made[tag][0]))["status"] for tag in made}
    assert statuses == {"mh": "bounced", "ms": "bounced", "mt": "sent", "mc": "complained"}
    assert (await delivery(stack, made["mh"][0]))["last_error"]["code"] == "550"

    # the same event and token again: idempotent; the token with another event: a replay
    token = secrets.token_hex(25)
    body = mailgun_body(hard, token=token)
    assert (await stack.client.post("/feedback/mailgun", content=body)).json() == {"duplicates": 1}
    assert (await stack.client.post("/feedback/mailgun", content=body)).json() == {"duplicates": 1}
    replayed = mailgun_body(event("mt", "complained"), token=token)
    refused(await stack.client.post("/feedback/mailgun", content=replayed), 403, "already used")
    assert (await delivery(stack, made["mt"][0]))["status"] == "sent"

    stale = mailgun_body(event("mt", "complained"), at=time.time() - 3600)
    refused(await stack.client.post("/feedback/mailgun", content=stale), 403, "replay window")
    payload = json.loads(mailgun_body(event("mt", "complained")))
    payload["signature"]["signature"] = "0" * 64
    refused(await stack.client.post("/feedback/mailgun", content=json.dumps(payload)), 403, "does not match")
    payload = json.loads(mailgun_body(event("mt", "complained")))
    del payload["event-data"]["id"]
    payload["signature"] = json.loads(mailgun_body({}))["signature"]
    refused(await stack.client.post("/feedback/mailgun", content=json.dumps(payload)), 400, "event-data.id")


# --- without configuration ----------------------------------------------------------------------------


async def test_providers_not_configured_answer_404(stack: Stack) -> None:
    for path, variable in (
        ("/feedback/ses", "bounces.ses"),
        ("/feedback/sendgrid", "SENDGRID_WEBHOOK_PUBLIC_KEY"),
        ("/feedback/mailgun", "MAILGUN_WEBHOOK_SIGNING_KEY"),
    ):
        refused(await stack.client.post(path, content=b"{}"), 404, variable)
