"""The Flow Manager settings: Tidings' ``flowManager`` labels, or Mia's ``flowManagerConfiguration`` as is.

Mia's object (its 13.x configuration page) carries the Flow Manager's URL (``serviceUrl``), the event
labels, where the /send fields sit inside a command's ``messagePayload`` (``metadataSchema``) and the
paths of two JavaScript files (``getTemplateIdFilePath``, ``getDataFilePath``). Both keys are decoded
here and resolved into one :class:`SagaSettings`; the script files are read at start-up (a missing file
names its key) and compiled by host.dispatch.saga.

Precedence: a Tidings name wins over Mia's spelling of the same setting, as for the environment's aliases.
``FLOW_MANAGER_URL`` wins over ``serviceUrl`` (so one configuration map serves every environment);
``flowManager`` and ``flowManagerConfiguration`` together are refused, since their labels would disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from host.errors import ConfigurationError

__all__ = [
    "FlowManagerConfiguration",
    "FlowManagerEvents",
    "MetadataSchema",
    "SagaScriptSource",
    "SagaSettings",
    "ScriptLimits",
    "resolve_saga",
]

#: a dotted path into the command's ``messagePayload`` (``notifications.channels``)
PayloadPath = Annotated[str, msgspec.Meta(min_length=1)]


class FlowManagerEvents(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Tidings' own key: labels of the events sent back to the Flow Manager after /saga/send."""

    success_event_label: str
    fail_event_label: str


class MetadataSchema(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Where each /send field is found inside a command's ``messagePayload`` (Mia's ``metadataSchema``).

    A field that is a list in /send (``channels``, ``recipients`` ...) takes one path or a list of
    paths, whose values are gathered in order (a string value counts as a list of one); the others
    take one path.
    """

    channels: PayloadPath | list[PayloadPath]
    recipients: PayloadPath | list[PayloadPath] | None = None
    clusters: PayloadPath | list[PayloadPath] | None = None
    message_title: PayloadPath | None = None
    message_content: PayloadPath | None = None
    #: ignored when ``getTemplateIdFilePath`` is set (as Mia documents)
    template_id: PayloadPath | None = None
    email_attachments: PayloadPath | list[PayloadPath] | None = None
    email_carbon_copies: PayloadPath | list[PayloadPath] | None = None
    email_blind_carbon_copies: PayloadPath | list[PayloadPath] | None = None
    email_sender: PayloadPath | None = None


class FlowManagerConfiguration(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Mia's ``flowManagerConfiguration``, accepted verbatim."""

    metadata_schema: MetadataSchema | None = None
    service_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^/\s]+(/\S*)?$")] | None = None
    success_event_label: str | None = None
    fail_event_label: str | None = None
    get_template_id_file_path: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    get_data_file_path: Annotated[str, msgspec.Meta(min_length=1)] | None = None


class ScriptLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Tidings' own key ``scriptLimits``: what one run of a saga script may use."""

    #: CPU seconds of one run (the engine counts the process's CPU time), compiling included
    time_limit_seconds: Annotated[float, msgspec.Meta(gt=0, le=30)] = 1.0
    #: heap of each script's engine, in MiB
    memory_limit_megabytes: Annotated[int, msgspec.Meta(ge=4, le=1024)] = 32


class SagaScriptSource(msgspec.Struct, frozen=True, kw_only=True):
    """One of Mia's script files, read at start-up: the key that names it, its path, its text."""

    key: str
    path: str
    source: str


class SagaSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How /saga/send reads commands and answers the Flow Manager, from whichever key was used."""

    #: where events go (``<url>/event``); None: no events
    url: str | None = None
    success_label: str | None = None
    fail_label: str | None = None
    #: None: ``messagePayload`` is a /send body (Tidings' own shape)
    schema: MetadataSchema | None = None
    get_template_id: SagaScriptSource | None = None
    get_data: SagaScriptSource | None = None
    limits: ScriptLimits = ScriptLimits()


def _read_script(key: str, path: str, base: Path) -> SagaScriptSource:
    file = Path(path) if Path(path).is_absolute() else base / path
    try:
        source = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(key, f"cannot read {file}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(key, f"{file} is not UTF-8 text") from exc
    return SagaScriptSource(key=key, path=str(file), source=source)


def resolve_saga(
    events: FlowManagerEvents | None,
    mia: FlowManagerConfiguration | None,
    limits: ScriptLimits,
    *,
    env_url: str | None,
    config_dir: Path,
) -> SagaSettings:
    """One view of the saga settings; script paths relative to the configuration file's folder."""
    if events is not None and mia is not None:
        raise ConfigurationError(
            "flowManager", "set either it (Tidings' labels) or flowManagerConfiguration (Mia's), not both"
        )
    if mia is None:
        return SagaSettings(
            url=env_url,
            success_label=events.success_event_label if events else None,
            fail_label=events.fail_event_label if events else None,
            limits=limits,
        )
    key = "flowManagerConfiguration"
    template_script = data_script = None
    if mia.get_template_id_file_path:
        template_script = _read_script(
            f"{key}.getTemplateIdFilePath", mia.get_template_id_file_path, config_dir
        )
    if mia.get_data_file_path:
        data_script = _read_script(f"{key}.getDataFilePath", mia.get_data_file_path, config_dir)
    return SagaSettings(
        url=env_url or mia.service_url,
        success_label=mia.success_event_label,
        fail_label=mia.fail_event_label,
        schema=mia.metadata_schema,
        get_template_id=template_script,
        get_data=data_script,
        limits=limits,
    )
