"""The text fields of a template, in one list: storage key, JSON name, label, channel, HTML or not.

The API's bodies, the console's editor, preview and history, the save-time compile check and the
composition of a channel's message all read this list, so adding a field is one line here.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple, get_args

import msgspec

__all__ = [
    "BY_KEY",
    "CATEGORIES",
    "HTML_KEYS",
    "JSON_NAMES",
    "TEXT_FIELDS",
    "TEXT_KEYS",
    "TRANSACTIONAL",
    "Category",
    "LocaleVariant",
    "TextField",
    "opt_outs_apply",
    "template_key",
]


class TextField(NamedTuple):
    """One text field of a template."""

    key: str  #: storage key (snake_case), e.g. ``email_html_message``
    name: str  #: JSON name (camelCase), as Mia's templates and the API spell it
    label: str  #: as the console shows it
    channel: str  #: the channel whose message it feeds
    html: bool  #: compiled as HTML (interpolated values escaped, newlines become <br/>)


#: in the console's display order
TEXT_FIELDS: tuple[TextField, ...] = (
    TextField("email_title", "emailTitle", "E-mail subject", "email", False),
    TextField("email_html_message", "emailHtmlMessage", "E-mail HTML", "email", True),
    TextField("email_message", "emailMessage", "E-mail text", "email", False),
    TextField("sms_message", "smsMessage", "SMS text", "sms", False),
    TextField("push_title", "pushTitle", "Push title", "push", False),
    TextField("push_subtitle", "pushSubtitle", "Push subtitle", "push", False),
    TextField("push_message", "pushMessage", "Push body", "push", False),
    TextField("voice_message", "voiceMessage", "Voice text", "voice", False),
)
TEXT_KEYS: tuple[str, ...] = tuple(field.key for field in TEXT_FIELDS)
BY_KEY: dict[str, TextField] = {field.key: field for field in TEXT_FIELDS}
#: storage key → JSON name, for messages that name a field as the client wrote it
JSON_NAMES: dict[str, str] = {field.key: field.name for field in TEXT_FIELDS}
HTML_KEYS: frozenset[str] = frozenset(field.key for field in TEXT_FIELDS if field.html)

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def template_key(camel_field: str) -> str:
    """The storage key of a template field: ``emailHtmlMessage`` → ``email_html_message``."""
    return _CAMEL.sub("_", camel_field).lower()


class LocaleVariant(
    msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """The text fields of one locale that differ from the template's default ones."""

    email_title: str | None = None
    email_message: str | None = None
    email_html_message: str | None = None
    sms_message: str | None = None
    voice_message: str | None = None
    push_title: str | None = None
    push_subtitle: str | None = None
    push_message: str | None = None


#: ``transactional`` mail (a password reset, a receipt) ignores opt-outs and carries no List-Unsubscribe
Category = Literal["standard", "transactional"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
TRANSACTIONAL: Category = "transactional"


def opt_outs_apply(category: str | None) -> bool:
    """Whether opt-outs (and List-Unsubscribe headers) apply to mail of this template category."""
    return category != TRANSACTIONAL
