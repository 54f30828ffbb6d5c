"""POST /send refuses bad input with a 400 in Mia's error shape, naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Stack

VALID: dict[str, Any] = {
    "channels": ["email"],
    "recipients": ["nobody"],
    "messageTitle": "t",
    "messageContent": "c",
}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != key}


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (without("channels"), "channels"),
        ({**VALID, "channels": []}, "channels"),
        ({**VALID, "channels": ["email", "fax"]}, "channels[1]: channel 'fax' is not active"),
        ({**VALID, "channels": ["fax"]}, "channels[0]"),
        (without("recipients"), "recipients, clusters"),
        ({**VALID, "recipients": [], "clusters": []}, "recipients, clusters"),
        (without("messageTitle"), "messageTitle"),
        (without("messageContent"), "messageContent"),
        ({**VALID, "channels": "email"}, "channels"),
        ({**VALID, "recipients": [1, 2]}, "recipients"),
        ({**VALID, "data": "x"}, "data"),
        ({**VALID, "emailCarbonCopies": "a@b.c"}, "emailCarbonCopies"),
        ({**VALID, "emailAttachments": ["a.pdf"]}, "no file service is configured"),
        ({**VALID, "emailSender": "not an address"}, "emailSender"),
        ({**without("messageTitle"), "templateId": "64b7f0c2a1b2c3d4e5f60718"}, "templateId"),
    ],
)
async def test_bad_bodies_get_400_naming_the_field(stack: Stack, body: dict[str, Any], mentions: str) -> None:
    response = await stack.client.post("/send", json=body)
    expected = 404 if "templateId" in body else 400
    assert response.status_code == expected, response.text
    error = response.json()
    assert set(error) == {"statusCode", "error", "message"}
    assert error["statusCode"] == str(expected)
    assert error["error"] == ("Bad request" if expected == 400 else "Not found")
    assert mentions in error["message"]


async def test_malformed_json_is_a_400_in_the_error_shape(stack: Stack) -> None:
    response = await stack.client.post(
        "/send", content=b'{"channels": ["email"', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["statusCode"] == "400"
    assert response.json()["error"] == "Bad request"


async def test_unknown_fields_are_accepted_and_ignored(stack: Stack) -> None:
    response = await stack.client.post("/send", json={**VALID, "priority": "high", "futureField": {"a": 1}})
    assert response.status_code == 200, response.text
    assert response.json()["failures"] == [
        {"userId": "nobody", "channel": "email", "error": "no user with id 'nobody'"}
    ]


async def test_unknown_route_uses_the_error_shape(stack: Stack) -> None:
    response = await stack.client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"statusCode": "404", "error": "Not found", "message": "Not Found"}
