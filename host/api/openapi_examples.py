"""Request examples of the OpenAPI document: what a first ``/send`` and ``/saga/send`` look like."""

from __future__ import annotations

from typing import Any

__all__ = ["BULK_NDJSON_EXAMPLE", "SAGA_SEND_EXAMPLES", "SEND_ANSWER_EXAMPLE", "SEND_EXAMPLES"]

_TEXT = {
    "channels": ["email", "sms"],
    "recipients": ["RSSMRA80A01H501U", "VRDGPP80A01H501X"],
    "messageTitle": "Your appointment",
    "messageContent": "Dear {{ user.name }}, see you tomorrow at 10:00.",
}

SEND_EXAMPLES: dict[str, dict[str, Any]] = {
    "text": {"summary": "A text to two users, by e-mail and SMS", "value": _TEXT},
    "template": {
        "summary": "A template to everyone in a cluster, with data for it",
        "value": {
            "channels": ["email", "push"],
            "clusters": ["patients"],
            "templateId": "appointment-reminder",
            "data": {"clinic": "Via Roma 1", "at": "2026-12-24T10:00:00+01:00"},
        },
    },
    "scheduled": {
        "summary": "Stored now, sent at a set time (ISO 8601 with a UTC offset)",
        "value": {**_TEXT, "channels": ["email"], "sendAt": "2030-11-27T21:00:00+01:00"},
    },
}

SAGA_SEND_EXAMPLES: dict[str, dict[str, Any]] = {
    "command": {
        "summary": "A Flow Manager command: the saga id, and the /send body as its payload",
        "value": {
            "key": "saga-4f1c2e",
            "value": {"messageLabel": "sendAppointmentReminder", "messagePayload": _TEXT},
        },
    }
}

SEND_ANSWER_EXAMPLE: dict[str, Any] = {
    "failures": [{"userId": "VRDGPP80A01H501X", "channel": "sms", "error": "the user has no phoneNumber"}],
    "dispatchId": "6750a4f2c3b1e2d4a5f60718",
}

BULK_NDJSON_EXAMPLE = (
    '{"fiscalCode": "RSSMRA80A01H501U", "mail": "mario@example.com", "groups": ["patients"]}\n'
    '{"fiscalCode": "VRDGPP80A01H501X", "mail": "giuseppe@example.com"}\n'
)
