"""The OpenAPI document at ``/schema/openapi.json``, complete enough to generate a working client from.

Litestar writes the paths, parameters and bodies from the route handlers. Once at start-up, before the
first request for it, this module adds what Litestar cannot know, to the very document every
``/schema`` page serves:

- the API-key scheme (``Authorization: Bearer tdk_...``) and, per operation, the scope it needs (in
  ``security``, in the description and as ``x-tidings-scope``), read from the same rule the key check
  applies (``host.api.auth.required_scope``); open operations declare ``security: []``;
- every error an operation can answer, each in the one error shape (``ErrorBody``): 400, 401, 403,
  404, 409, 413, 415 and 503 where they can happen;
- what handlers read by hand: the ``/saga/send`` body, the ``/users/bulk`` body, ``Idempotency-Key``;
- request examples for ``/send`` and ``/saga/send``, and tags and operation ids (the handler's name)
  that make a generated client readable: ``api.send.send``, ``api.templates.create_template``.

Route modules stay as they are: a route that can answer 409 or 415 for a reason of its own is listed in
the tables below (tests/api/test_openapi.py checks they name real operations).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.routes import HTTPRoute
from litestar.types import Method

from host import __version__
from host.api.auth import AUTH_ENV, required_scope
from host.api.errors import ErrorBody, error_body
from host.api.idempotency import IDEMPOTENT_PATHS
from host.api.openapi_callbacks import NOT_CONFIGURED, SIGNED, TOO_LARGE
from host.api.openapi_examples import (
    BULK_NDJSON_EXAMPLE,
    SAGA_SEND_EXAMPLES,
    SEND_ANSWER_EXAMPLE,
    SEND_EXAMPLES,
)
from host.dispatch.schemas import FlowManagerCommand

__all__ = [
    "CONFLICTS",
    "SCHEME",
    "SIGNED",
    "TOO_LARGE",
    "UNSUPPORTED_MEDIA",
    "complete_openapi",
    "openapi_config",
]

Doc = dict[str, Any]

#: the name of the API-key security scheme
SCHEME = "apiKey"
#: operations that answer 409 for a reason of their own (the path as the document writes it)
CONFLICTS: dict[tuple[str, str], str] = {
    ("post", "/send"): "the Idempotency-Key was used with another body, or its first request still runs",
    ("post", "/saga/send"): "the Idempotency-Key was used with another body, or its first request still runs",
    ("post", "/templates"): "a template has this name already",
    ("put", "/templates/{template_id}"): "another template has this name, or another save came first",
    ("post", "/templates/{template_id}/versions/{version}/restore"): "another save came first",
    ("post", "/clusters"): "a cluster has this name already",
    ("post", "/dispatches/{dispatch_id}/cancel"): "the dispatch has started already",
}
#: operations that answer 415
UNSUPPORTED_MEDIA: dict[tuple[str, str], str] = {
    ("post", "/users/bulk"): "the Content-Type is neither application/x-ndjson nor application/json",
}
#: success answers a handler chooses itself, besides the one Litestar declares from its decorator
_ALSO_SUCCEEDS: dict[tuple[str, str], tuple[str, str]] = {
    ("put", "/users/{user_id}"): ("201", "Created: there was no user with this id."),
}
#: operations that answer 404 without a path parameter
_NOT_FOUND: dict[tuple[str, str], str] = {
    ("post", "/send"): "templateId names no template",
    ("post", "/saga/send"): "templateId names no template",
    ("post", "/twilio/status"): "no delivery has this MessageSid or CallSid",
    **NOT_CONFIGURED,
}
#: paths that never reach the database
_NO_DATABASE = frozenset({"/-/healthz", "/-/ready"})

_DESCRIPTION = f"""\
Send messages to users over e-mail, SMS, push and voice; the Mia-Platform Messaging Service API
(`POST /send`, `POST /saga/send`) and Tidings' own (dispatches, templates, clusters, users).

Every operation with a `security` requirement needs an API key with the scope it names
(`x-tidings-scope`), sent as `Authorization: Bearer tdk_...` (`tidings apikey create NAME --scope send`);
a service run with `{AUTH_ENV}=off` (behind an authenticating gateway) checks none.
Every error is `{{"statusCode": "400", "error": "Bad request", "message": "..."}}`, the message naming
the field at fault."""

_SCOPE_TEXT = {
    "send": "sends messages",
    "read": "reads dispatches, templates, clusters and users",
    "manage": "creates, changes and deletes templates, clusters and users",
}


def _operation_id(handler: HTTPRouteHandler, method: Method, path: list[str | Any]) -> str:
    """The handler's name in camelCase (``create_template`` → ``createTemplate``): unique, and readable."""
    head, *rest = handler.handler_name.split("_")
    return head + "".join(word.title() for word in rest)


def openapi_config() -> OpenAPIConfig:
    """The document's settings; ``complete_openapi`` (a start-up hook) adds the rest."""
    return OpenAPIConfig(
        title="Tidings",
        version=__version__,
        description=_DESCRIPTION,
        use_handler_docstrings=True,
        operation_id_creator=_operation_id,
    )


def _error(status: int, description: str, message: str, headers: Doc | None = None) -> Doc:
    example = msgspec.to_builtins(error_body(status, message))
    answer: Doc = {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}, "example": example}
        },
    }
    if headers:
        answer["headers"] = headers
    return answer


def _header(description: str) -> Doc:
    return {"description": description, "schema": {"type": "string"}}


def _not_found_example(path: str, key: tuple[str, str]) -> str:
    if path in SIGNED and key in _NOT_FOUND:
        return _NOT_FOUND[key]
    if key in _NOT_FOUND:
        return "templateId: no template with id or name 'welcome'"
    parameter = path.rsplit("{", 1)[1].split("}")[0]
    return f"{parameter.removesuffix('_id')}: no such {parameter.removesuffix('_id')} 'x'"


def _errors(method: str, path: str, scope: str | None, validated: bool) -> Iterator[tuple[int, Doc]]:
    """The errors this operation can answer, each in the API's error shape.

    ``validated``: the operation has parameters or a body, so a malformed request answers 400.
    """
    key = (method, path)
    if validated or key in _NOT_FOUND:
        yield 400, _error(400, "The request is invalid; the message names the field.", "channels: required")
    if scope is not None:
        www = {"WWW-Authenticate": _header('`Bearer realm="tidings"`')}
        yield 401, _error(401, "No API key, or an unknown or revoked one.", "invalid API key", www)
        yield (
            403,
            _error(403, f"The API key lacks the `{scope}` scope.", f"this API key lacks the {scope!r} scope"),
        )
    elif path in SIGNED:
        yield 403, _error(403, *SIGNED[path])
    if "{" in path or key in _NOT_FOUND:
        reason = _NOT_FOUND.get(key, "what the path names does not exist")
        yield 404, _error(404, reason[:1].upper() + reason[1:] + ".", _not_found_example(path, key))
    if key in CONFLICTS:
        yield 409, _error(409, CONFLICTS[key][:1].upper() + CONFLICTS[key][1:] + ".", "name: already exists")
    if key in TOO_LARGE:
        yield 413, _error(413, TOO_LARGE[key], "body: larger than 1048576 bytes")
    if key in UNSUPPORTED_MEDIA:
        reason = UNSUPPORTED_MEDIA[key]
        yield 415, _error(415, reason[:1].upper() + reason[1:] + ".", "content-type: 'text/csv' is not ...")
    if path not in _NO_DATABASE:
        retry = {"Retry-After": _header("seconds to wait before trying again")}
        text = "the database is not reachable; nothing was accepted, try again"
        yield 503, _error(503, "The database is not reachable; nothing was accepted.", text, retry)


def _complete_operation(operation: Doc, method: str, path: str, scope: str | None) -> None:
    operation["tags"] = [_tag(path)]
    if scope is None:
        operation["security"] = []
    else:
        operation["security"] = [{SCHEME: []}]
        operation["x-tidings-scope"] = scope
        needs = f"**Scope:** `{scope}` (an API key that {_SCOPE_TEXT.get(scope, scope)})."
        operation["description"] = needs + (
            "\n\n" + operation["description"] if operation.get("description") else ""
        )
    responses = operation.setdefault("responses", {})
    if (method, path) in _ALSO_SUCCEEDS:
        also, description = _ALSO_SUCCEEDS[(method, path)]
        first = next(iter(responses.values()))
        responses[also] = {**first, "description": description}
    validated = "400" in responses or "requestBody" in operation
    for status, answer in _errors(method, path, scope, validated):
        responses[str(status)] = answer  # Litestar's own 400 describes a body the API never sends
    if path in IDEMPOTENT_PATHS and method == "post":
        operation.setdefault("parameters", []).append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "the same key with the same body answers the first answer again and sends "
                "nothing twice (header Idempotent-Replayed: true); with another body, 409",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )


def _tag(path: str) -> str:
    head = path.strip("/").split("/")[0]
    return {"-": "probes", "saga": "send"}.get(head, head)


def _bodies(paths: Doc) -> None:
    """The bodies handlers read by hand, and the examples of the sending operations."""
    send = paths["/send"]["post"]
    send["requestBody"]["content"]["application/json"]["examples"] = SEND_EXAMPLES
    send["responses"]["200"]["content"]["application/json"]["example"] = SEND_ANSWER_EXAMPLE
    saga = paths["/saga/send"]["post"]
    saga["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/FlowManagerCommand"},
                "examples": SAGA_SEND_EXAMPLES,
            }
        },
    }
    saga["responses"]["200"] = {"description": "Accepted: an empty body; the Flow Manager hears the outcome."}
    ready = paths["/-/ready"]["get"]["responses"]
    ready["503"] = {
        **ready["200"],
        "description": "The database or the broker does not answer; `checks` says which.",
    }
    paths["/users/bulk"]["post"]["requestBody"] = {
        "required": True,
        "description": "one user per line (NDJSON), or a JSON array of users; streamed, any size",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}, "example": BULK_NDJSON_EXAMPLE},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }


def _components(document: Doc) -> None:
    components = document.setdefault("components", {})
    _, schemas = msgspec.json.schema_components(
        (ErrorBody, FlowManagerCommand), ref_template="#/components/schemas/{name}"
    )
    known = components.setdefault("schemas", {})
    for name, schema in schemas.items():
        known.setdefault(name, schema)  # Litestar's own SendRequest is kept
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "tdk_<prefix>_<secret>",
        "description": "An API key, `Authorization: Bearer tdk_ab12cd34_...`, holding the operation's "
        f"scope (`tidings apikey create NAME --scope send --scope read`); not checked with {AUTH_ENV}=off.",
    }


def _handlers(app: Litestar) -> dict[tuple[str, str], tuple[HTTPRouteHandler, str]]:
    found = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                found[(method.lower(), route.path_format)] = (handler, route.path)
    return found


def complete_openapi(app: Litestar) -> None:
    """Complete the document the ``/schema`` pages serve (a start-up hook; it builds the document once)."""
    # Litestar's own plugin keeps the dictionary every /schema page renders: completed here, once
    plugin: Any = app.plugins.get("OpenAPIPlugin")
    document: Doc = plugin.provide_openapi_schema()
    if "securitySchemes" in document.get("components", {}):
        return  # completed already (an application started twice)
    handlers = _handlers(app)
    paths: Doc = document["paths"]
    _bodies(paths)
    for path, item in paths.items():
        for method, operation in item.items():
            handler, template = handlers[(method, path)]
            _complete_operation(operation, method, path, required_scope(handler, method, template))
    _components(document)
