"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency

from host.runtime.wiring import Runtime

__all__ = ["healthz", "ready"]


class Health(msgspec.Struct, kw_only=True):
    """What a probe found."""

    status: str
    checks: dict[str, str] = {}


@get("/-/healthz", summary="Liveness: the process answers")
async def healthz() -> Health:
    """Always ok while the process serves requests."""
    return Health(status="ok")


@get("/-/ready", summary="Readiness: the database and the broker answer")
async def ready(runtime: NamedDependency[Runtime], broker_ping: NamedDependency[Any]) -> Response[Health]:
    """200 only when both the database and the broker answer; 503 naming what does not."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(runtime.ping_database(), timeout=2.0)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        await asyncio.wait_for(asyncio.to_thread(broker_ping), timeout=2.0)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"unavailable: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return Response(
        Health(status="ok" if healthy else "unavailable", checks=checks), status_code=200 if healthy else 503
    )
