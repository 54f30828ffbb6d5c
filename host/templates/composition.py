"""Composition: which source text feeds each attribute of a channel's Message, and rendering it per user.

A channel maps Message attributes to template fields (``template_fields``). The attribute ``data`` is
the one that is not text: fed by a string ``pushData`` it is rendered and then parsed as JSON
(host.templates.push_data); an object ``pushData`` is sent as it is, to every channel, as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from host.access.bounce_addresses import BounceAddresses
from host.access.unsubscribe_links import UnsubscribeLinks
from host.errors import RenderError, RequestError
from host.plugins.channel import Attachment, Channel, Message
from host.templates.fields import opt_outs_apply, template_key
from host.templates.locales import pick_variant, render_locale, variant_fields
from host.templates.push_data import parse_push_data
from host.templates.rendering import CompiledTemplate, Renderer

__all__ = ["Composer", "ContentChecks", "check_content"]

Doc = dict[str, Any]


def _sources(
    channel: Channel, template: Mapping[str, Any] | None, title: str | None, content: str | None
) -> dict[str, tuple[str, str]]:
    """Message attribute → (field name, source text) for one channel."""
    sources: dict[str, tuple[str, str]] = {}
    for attr, field in channel.template_fields.items():
        if template is not None:
            text = template.get(template_key(field))
            if text and isinstance(text, str):  # an object pushData is no source: it is sent as it is
                sources[attr] = (field, text)
        elif attr == "subject" and title:
            sources[attr] = ("messageTitle", title)
        elif attr == "text" and content:
            sources[attr] = ("messageContent", content)
    return sources


def _syntax(renderer: Renderer, template: Mapping[str, Any] | None) -> Any:
    """A stored template's own syntax (Jinja when it has none: it predates the field); for a message
    written in the request, the service's ``templateSyntax``."""
    if template is None:
        return renderer.inline_syntax
    return template.get("syntax", "jinja")


def _fixed_data(template: Mapping[str, Any] | None) -> dict[str, Any]:
    data = (template or {}).get("push_data")
    return dict(data) if isinstance(data, Mapping) else {}


async def check_content(
    renderer: Renderer,
    channels: Sequence[tuple[str, Channel]],
    template: Mapping[str, Any] | None,
    title: str | None,
    content: str | None,
) -> None:
    """Refuse (4xx) content that lacks a field a requested channel needs, or that does not compile
    (checked by the renderer's checking process, within the compile budget: host.templates.rendering)."""
    for name, channel in channels:
        sources = _sources(channel, template, title, content)
        present = {*sources, *(["data"] if _fixed_data(template) else [])}
        for requirement in channel.required:
            options = requirement.split("|")
            if not any(option in present for option in options):
                wanted = " or ".join(channel.template_fields.get(o, o) for o in options)
                owner = f"template {template.get('name')!r}" if template else "the request"
                raise RequestError(f"{owner} has no {wanted}, required by channel {name!r}")
        for attr, (field, text) in sources.items():
            try:
                await renderer.check_async(
                    text, field=field, html=attr in channel.html_fields, syntax=_syntax(renderer, template)
                )
            except RenderError as exc:  # "<field>: line N: <reason>", the field named once
                line = f"line {exc.line}: " if exc.line is not None else ""
                raise RequestError(f"{field}: {line}{exc.reason}") from exc
            except Exception as exc:
                raise RequestError(f"{field}: {exc}") from exc


#: messages written in a request that passed :class:`ContentChecks`, remembered (the least recently sent
#: forgotten first), each of at most PASSED_TEXT characters (title and content): a few MB at most
PASSED_MESSAGES = 256
PASSED_TEXT = 4096


class ContentChecks:
    """:func:`check_content`, remembering which messages written in a request passed.

    A client sends the same text again and again (its data varies, in ``data``): its channels, title and
    content are checked once, and then found in :data:`PASSED_MESSAGES` remembered ones. Checking them
    again cost 10 µs of a /send's CPU (every field's compile-cache lookup, each channel's required
    fields). A stored template is checked every time (it may have changed since), and a refusal is not
    remembered: it raises, as before. Used on one event loop.
    """

    def __init__(self, renderer: Renderer, size: int = PASSED_MESSAGES) -> None:
        self._renderer = renderer
        self._size = size
        self._passed: OrderedDict[tuple[tuple[str, ...], str | None, str | None], None] = OrderedDict()

    async def check(
        self,
        channels: Sequence[tuple[str, Channel]],
        template: Mapping[str, Any] | None,
        title: str | None,
        content: str | None,
    ) -> None:
        """Refuse (4xx) what :func:`check_content` refuses."""
        if template is not None or len(title or "") + len(content or "") > PASSED_TEXT:
            await check_content(self._renderer, channels, template, title, content)
            return
        key = (tuple(name for name, _ in channels), title, content)
        if key in self._passed:
            self._passed.move_to_end(key)
            return
        await check_content(self._renderer, channels, None, title, content)
        self._passed[key] = None
        if len(self._passed) > self._size:
            self._passed.popitem(last=False)


class Composer:
    """Renders one channel's Message of one dispatch for any of its users (templates compiled once).

    Made by :meth:`prepare`, which compiles every variant's fields off the event loop.
    """

    def __init__(
        self,
        channel: Channel,
        dispatch: Mapping[str, Any],
        template: Mapping[str, Any] | None,
        variants: dict[str | None, dict[str, CompiledTemplate]],
        attachments: Sequence[Attachment] = (),
        unsubscribe: UnsubscribeLinks | None = None,
        bounces: BounceAddresses | None = None,
    ) -> None:
        # e-mails get RFC 8058 one-click unsubscribe headers, unless the dispatch is transactional
        mails = channel.name == "email" and opt_outs_apply(dispatch.get("category"))
        self._unsubscribe = unsubscribe if mails else None
        # every e-mail, transactional too, gets its VERP envelope sender (host.access.bounce_addresses)
        self._bounces = bounces if channel.name == "email" else None
        self._variants = variants
        self._data: Mapping[str, Any] = dispatch.get("data") or {}
        email = dispatch.get("email") or {}
        self._fixed: dict[str, Any] = {
            "sender": email.get("sender"),
            "cc": tuple(email.get("cc") or ()),
            "bcc": tuple(email.get("bcc") or ()),
            "attachments": tuple(attachments),
            "data": _fixed_data(template),
        }

    @classmethod
    async def prepare(
        cls,
        renderer: Renderer,
        channel: Channel,
        dispatch: Mapping[str, Any],
        template: Mapping[str, Any] | None,
        attachments: Sequence[Attachment] = (),
        unsubscribe: UnsubscribeLinks | None = None,
        bounces: BounceAddresses | None = None,
    ) -> Composer:
        """Compile every variant (once per dispatch and channel, never per user), off the event loop.

        Raises RenderError naming the field (a template stored before the compile budget may exceed it).
        """
        variants: dict[str | None, dict[str, CompiledTemplate]] = {}
        for variant in [None, *((template or {}).get("locales") or {})]:
            fields = variant_fields(template, variant) if template is not None else None
            compiled: dict[str, CompiledTemplate] = {}
            for attr, (field, text) in _sources(
                channel, fields, dispatch.get("title"), dispatch.get("content")
            ).items():
                compiled[attr] = await renderer.compile_async(
                    text,
                    field=field if variant is None else f"locales.{variant}.{field}",
                    html=attr in channel.html_fields,
                    syntax=_syntax(renderer, template),
                )
            variants[variant] = compiled
        return cls(
            channel,
            dispatch,
            template,
            variants,
            attachments=attachments,
            unsubscribe=unsubscribe,
            bounces=bounces,
        )

    def compose(
        self,
        user: Mapping[str, Any],
        locale: str | None = None,
        user_id: str | None = None,
        delivery_id: str | None = None,
    ) -> Message:
        """The message for this user in the variant of ``locale`` (host.templates.locales).

        Raises RenderError naming the field. A locale Babel does not know formats in the default one.
        With ``user_id``, an e-mail carries the user's unsubscribe link (host.access.unsubscribe_links);
        with ``delivery_id``, its envelope sender is the delivery's bounce address.
        """
        compiled = self._variants[pick_variant((v for v in self._variants if v is not None), locale)]
        language = render_locale(locale)
        rendered: dict[str, Any] = {
            attr: t.render(user, self._data, locale=language) for attr, t in compiled.items()
        }
        if "data" in rendered:  # pushData, a JSON string: parsed once rendered
            rendered["data"] = parse_push_data(rendered["data"], compiled["data"].field)
        if self._bounces is not None and delivery_id is not None:
            rendered["envelope_sender"] = self._bounces.envelope_sender(delivery_id)
        values = {**self._fixed, **rendered}
        if self._unsubscribe is not None and user_id is not None:
            personal = self._unsubscribe.headers(user_id, "email")  # the user's alone, not the copies'
            return Message(**values, personal_headers=personal)
        return Message(**values)
