"""Every error of the API in Mia's shape, a route that does not exist included."""

from __future__ import annotations

from tests.support.stacks import Stack


async def test_unknown_route_uses_the_error_shape(stack: Stack) -> None:
    response = await stack.client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"statusCode": "404", "error": "Not found", "message": "Not Found"}
