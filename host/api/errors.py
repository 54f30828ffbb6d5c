"""Every error of the API in one shape: ``{"statusCode": "400", "error": "Bad request", "message": ...}``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from pymongo.errors import ConnectionFailure, PyMongoError

from host.errors import RequestError

__all__ = ["ErrorBody", "error_body", "error_response", "exception_handlers", "field_message"]

log = logging.getLogger(__name__)


class ErrorBody(msgspec.Struct, rename="camel", kw_only=True):
    """Every error of the API: ``{"statusCode": "400", "error": "Bad request", "message": ...}``."""

    status_code: str
    error: str
    message: str


def error_body(status_code: int, message: str) -> ErrorBody:
    """An error in the Mia shape; the reason phrase is written as Mia writes it ("Bad request")."""
    phrase = HTTPStatus(status_code).phrase
    return ErrorBody(status_code=str(status_code), error=phrase[:1] + phrase[1:].lower(), message=message)


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> Response[Any]:
    """An error answer: ``error_body`` with its status and headers."""
    return Response(error_body(status_code, message), status_code=status_code, headers=headers)


def field_message(key: str | None, text: str) -> str:
    """A problem as the ``message`` of an error names it: ``channels: Expected `array`, got `str```."""
    return f"{key}: {text.strip()}" if key else text.strip()


def _validation_message(exc: ValidationException) -> str:
    problems = [
        field_message(item.get("key"), str(item.get("message", "")))
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    if problems:
        return "; ".join(problems)
    detail = exc.detail or "invalid request"
    if "Expected" in detail or "JSON" in detail or "malformed" in detail.lower():
        return f"body: {detail}"
    return detail


def _on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    return error_response(400, _validation_message(exc))


def _on_request_error(request: Request[Any, Any, Any], exc: RequestError) -> Response[Any]:
    return error_response(exc.status_code, exc.message)


def _on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    headers = dict(exc.headers or {})
    return error_response(exc.status_code, str(exc.detail), headers or None)


def _on_database(request: Request[Any, Any, Any], exc: PyMongoError) -> Response[Any]:
    log.warning("database error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    if isinstance(exc, ConnectionFailure):
        return error_response(
            503, "the database is not reachable; nothing was accepted, try again", {"Retry-After": "5"}
        )
    return error_response(500, "database error")


def _on_recursion(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    # msgspec gives up on JSON nested about a thousand deep, while decoding the body: the client's doing
    if "deserializ" in str(exc):
        return error_response(400, "body: JSON nested too deeply")
    return _on_unexpected(request, exc)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error")


exception_handlers: ExceptionHandlersMap = {
    ValidationException: _on_validation,
    RequestError: _on_request_error,
    HTTPException: _on_http,
    PyMongoError: _on_database,
    RecursionError: _on_recursion,
    Exception: _on_unexpected,
}
