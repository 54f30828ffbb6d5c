"""POST /send and POST /saga/send: the Mia Messaging Service compatible core.

``POST /send?wait=N`` (0 < N <= 30 seconds) holds the answer until every delivery of the dispatch is
settled or the time is up, and then also lists in ``failures`` the deliveries the providers refused
(for clients written against a synchronous service). Without ``wait`` the answer comes at once.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from host.api.errors import error_response
from host.dispatch.saga import saga_key
from host.dispatch.schemas import SendAccepted, SendRequest
from host.errors import RequestError
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
    """Same job as /send, for a saga: 200 with an empty body, then an event to the Flow Manager.

    The command is read as the configuration says (host.dispatch.saga: a /send body, or Mia's
    ``metadataSchema`` and scripts); any problem answers 4xx naming it and sends the fail event.
    """
    body = await request.body()
    try:
        key, payload = await runtime.saga.read(body)
        await runtime.dispatch.accept(payload, saga_id=key)
    except RequestError as exc:
        failed = saga_key(body)
        if failed is not None:
            notifier.notify(failed, success=False)
        return error_response(exc.status_code, exc.message)
    notifier.notify(key, success=True)
    return Response(content=b"", status_code=200, media_type="application/json")
