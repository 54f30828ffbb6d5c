"""POST /send and POST /saga/send: the Mia Messaging Service compatible core.

``POST /send?wait=N`` (0 < N <= 30 seconds) holds the answer until every delivery of the dispatch is
settled or the time is up, and then also lists in ``failures`` the deliveries the providers refused
(for clients written against a synchronous service). Without ``wait`` the answer comes at once.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from host.api.errors import error_response, field_message
from host.dispatch.schemas import FlowManagerCommand, SendAccepted, SendRequest
from host.errors import RequestError, validation_problem
from host.events.flow_manager import FlowManagerNotifier
from host.runtime.wiring import Runtime

__all__ = ["MAX_WAIT_SECONDS", "saga_send", "send"]

MAX_WAIT_SECONDS = 30.0


@post(
    "/send",
    status_code=200,
    summary="Send a message to users over one or more channels",
    opt={"scope": "send"},
)
async def send(
    data: JSONBody[SendRequest],
    runtime: NamedDependency[Runtime],
    wait: Annotated[
        float,
        QueryParameter(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="seconds to hold the answer until the deliveries settle (failures then "
            "include the providers' refusals)",
        ),
    ] = 0,
) -> SendAccepted:
    """Accept a send request: stored first, answered with the failures already known."""
    accepted = await runtime.dispatch.accept(data)
    if wait > 0 and accepted.send_at is msgspec.UNSET:  # a scheduled one settles later, not now
        return await runtime.dispatches.wait_settled(accepted, wait)
    return accepted


@post(
    "/saga/send",
    status_code=200,
    summary="Send a message from a Flow Manager command",
    opt={"scope": "send"},
)
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
        if isinstance(exc, msgspec.ValidationError):
            return error_response(400, field_message(*validation_problem(exc)))
        return error_response(400, f"body: {exc}")  # not JSON at all
    except RequestError as exc:
        if isinstance(key, str):
            notifier.notify(key, success=False)
        return error_response(exc.status_code, exc.message)
    notifier.notify(command.key, success=True)
    return Response(content=b"", status_code=200, media_type="application/json")
