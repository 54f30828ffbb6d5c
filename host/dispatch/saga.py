"""Reading a Flow Manager command (``POST /saga/send``) into the /send request it stands for.

A command is ``{"key": <saga id>, "value": {"messageLabel": ..., "messagePayload": ...}}``. Without a
``metadataSchema`` its ``messagePayload`` is a /send body (Tidings' own shape). With Mia's
``flowManagerConfiguration.metadataSchema``, each /send field is read at its dotted path inside the
``messagePayload`` (``"channels": "notifications.channels"``); a list field may name several paths, whose
values are gathered in order (a string counts as a list of one). As Mia documents, ``getTemplateId``
(its file at ``getTemplateIdFilePath``) replaces the schema's ``templateId``, and ``data`` is what
``getData`` returns or, without it, the whole command. Problems raise RequestError naming the field (or
the script's key and file), so the answer is a 400 and the saga gets its fail event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from host.dispatch.schemas import FlowManagerCommand, SendRequest
from host.dispatch.scripts import SagaScript, ScriptError
from host.errors import RequestError, validation_problem
from host.settings import MetadataSchema, SagaSettings, camel

__all__ = ["SagaReader", "saga_key"]

Doc = dict[str, Any]
_LIST_FIELDS = (
    "channels",
    "recipients",
    "clusters",
    "email_attachments",
    "email_carbon_copies",
    "email_blind_carbon_copies",
)
_TEXT_FIELDS = ("message_title", "message_content", "template_id", "email_sender")


class _Envelope(msgspec.Struct, rename="camel", kw_only=True):
    message_label: str
    message_payload: Any = None


class _Command(msgspec.Struct, kw_only=True):
    """A command whose payload is read through the metadata schema (any JSON)."""

    key: str
    value: _Envelope


def saga_key(body: bytes) -> str | None:
    """The saga id of a body, read leniently, so that even a malformed command gets its fail event."""
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    key = decoded.get("key") if isinstance(decoded, dict) else None
    return key if isinstance(key, str) else None


def _at(payload: Any, path: str) -> Any:
    value = payload
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _where(name: str, paths: str | list[str]) -> str:
    shown = paths if isinstance(paths, str) else ", ".join(paths)
    return f"{camel(name)} (messagePayload.{shown})"


def _gather(payload: Any, name: str, paths: str | list[str]) -> list[str] | None:
    """A list field: every path's value, in order; None if no path holds one."""
    found: list[str] = []
    present = False
    for path in [paths] if isinstance(paths, str) else paths:
        value = _at(payload, path)
        if value is None:
            continue
        present = True
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise RequestError(f"{_where(name, path)}: must be a string or a list of strings")
        found.extend(items)
    return found if present else None


def _fields(schema: MetadataSchema, payload: Any) -> Doc:
    """The /send fields (camelCase, as /send spells them) the schema locates in ``payload``."""
    if not isinstance(payload, Mapping):
        raise RequestError("value.messagePayload: must be an object (metadataSchema reads fields from it)")
    fields: Doc = {}
    for name in _LIST_FIELDS:
        paths = getattr(schema, name)
        if paths is not None:
            gathered = _gather(payload, name, paths)
            if gathered is not None:
                fields[camel(name)] = gathered
    for name in _TEXT_FIELDS:
        path = getattr(schema, name)
        if path is None:
            continue
        value = _at(payload, path)
        if value is None:
            continue
        if not isinstance(value, str):
            raise RequestError(f"{_where(name, path)}: must be a string")
        fields[camel(name)] = value
    if "channels" not in fields:
        raise RequestError(f"{_where('channels', schema.channels)}: not found in the command")
    return fields


class SagaReader:
    """Turns commands into /send requests, with the configured schema and scripts (compiled once)."""

    def __init__(self, settings: SagaSettings) -> None:
        self._schema = settings.schema
        self._template_id: SagaScript | None = None
        self._data: SagaScript | None = None
        try:
            if settings.get_template_id is not None:
                self._template_id = SagaScript(
                    settings.get_template_id, settings.limits, function_name="getTemplateId"
                )
            if settings.get_data is not None:
                self._data = SagaScript(settings.get_data, settings.limits, function_name="getData")
        except BaseException:
            self.close()
            raise

    async def read(self, body: bytes) -> tuple[str, SendRequest]:
        """The saga id and the /send request of a command body; RequestError (400) naming the problem."""
        try:
            if self._schema is None:
                plain = msgspec.json.decode(body, type=FlowManagerCommand)
                key, request = plain.key, plain.value.message_payload
                command: Any = msgspec.json.decode(body) if self._template_id or self._data else None
            else:
                mapped = msgspec.json.decode(body, type=_Command)
                key, command = mapped.key, msgspec.json.decode(body)
                fields = _fields(self._schema, mapped.value.message_payload)
                request = msgspec.convert(fields, SendRequest)
        except msgspec.ValidationError as exc:
            where, problem = validation_problem(exc)
            raise RequestError(f"{where}: {problem}" if where else problem) from None
        except msgspec.DecodeError as exc:
            raise RequestError(f"body: {exc}") from None
        try:
            if self._template_id is not None:
                request = msgspec.structs.replace(
                    request, template_id=await self._template_id.template_id(command)
                )
            if self._data is not None:
                request = msgspec.structs.replace(request, data=await self._data.data(command))
            elif self._schema is not None:
                request = msgspec.structs.replace(request, data=command)  # as Mia: the command as is
        except ScriptError as exc:
            raise RequestError(str(exc)) from None
        return key, request

    def close(self) -> None:
        """Stop the scripts' threads."""
        for script in (self._template_id, self._data):
            if script is not None:
                script.close()
