"""Checks every resource API test makes of an answer: the status and Mia's error shape."""

from __future__ import annotations

from typing import Any

__all__ = ["assert_error"]


def assert_error(response: Any, status: int, mentions: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"statusCode", "error", "message"}
    assert body["statusCode"] == str(status)
    assert mentions in body["message"], body["message"]
