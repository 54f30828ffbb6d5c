"""POST /send and POST /saga/send: the Mia Messaging Service compatible core."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import JSONBody

from host.api.errors import _validation_message, error_response
from host.api.schemas import FlowManagerCommand, SendAccepted, SendRequest
from host.errors import RequestError
from host.flow_manager import FlowManagerNotifier
from host.runtime import Runtime

__all__ = ["saga_send", "send"]


@post("/send", status_code=200, summary="Send a message to users over one or more channels")
async def send(data: JSONBody[SendRequest], runtime: NamedDependency[Runtime]) -> SendAccepted:
    """Accept a send request: stored first, answered with the failures already known."""
    return await runtime.dispatch.accept(data)


@post("/saga/send", status_code=200, summary="Send a message from a Flow Manager command")
async def saga_send(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    notifier: NamedDependency[FlowManagerNotifier],
) -> Response[Any]:
    """Same job as /send, for a saga: 200 with an empty body, then an event to the Flow Manager."""
    body = await request.body()
    key: Any = None
    with contextlib.suppress(msgspec.DecodeError):
        key = msgspec.json.decode(body, type=dict[str, Any]).get("key")
    try:
        command = msgspec.json.decode(body, type=FlowManagerCommand)
        await runtime.dispatch.accept(command.value.message_payload, saga_id=command.key)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        if isinstance(key, str):
            notifier.notify(key, success=False)
        return error_response(400, _decode_message(exc))
    except RequestError as exc:
        if isinstance(key, str):
            notifier.notify(key, success=False)
        return error_response(exc.status_code, exc.message)
    notifier.notify(command.key, success=True)
    return Response(content=b"", status_code=200, media_type="application/json")


def _decode_message(exc: Exception) -> str:
    text = str(exc)
    if " - at `$" in text:
        message, _, path = text.rpartition(" - at `$")
        return _validation_message(
            ValidationException(extra=[{"key": path.rstrip("`").lstrip("."), "message": message}])
        )
    return f"body: {text}"
