"""The renderer: compiles message templates once, renders them per user within the render limits."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from jinja2 import Template, TemplateSyntaxError

from host.errors import ConfigurationError, RenderError
from host.templates.rendering import budget
from host.templates.rendering.budget import RenderLimits, RenderState
from host.templates.rendering.dates import resolve_timezone
from host.templates.rendering.functions import TEMPLATE_FUNCTIONS
from host.templates.rendering.handlebars import HandlebarsTemplate
from host.templates.rendering.locales import parse_locale
from host.templates.rendering.sandbox import TemplateSandbox

__all__ = ["CompiledTemplate", "Renderer", "Syntax"]

Syntax = Literal["jinja", "handlebars"]
_SYNTAXES: tuple[Syntax, ...] = ("jinja", "handlebars")
_TEMPLATE_FILE = "<template>"  # the file name Jinja gives code compiled from a string
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _template_line(exc: BaseException) -> int | None:
    """The template line of the innermost template frame in the (Jinja-rewritten) traceback."""
    line = None
    trace: TracebackType | None = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _describe(exc: Exception) -> str:
    message = str(exc)
    kind = type(exc).__name__
    if type(exc).__module__.startswith("jinja2"):
        return message or kind
    return f"{message} ({kind})" if message else kind


class CompiledTemplate:
    """One field's template, compiled; :meth:`render` it once per user."""

    __slots__ = ("_clock", "_limits", "_locale", "_template", "_timezone", "field")

    def __init__(
        self,
        template: Template | HandlebarsTemplate,
        *,
        field: str,
        limits: RenderLimits,
        locale: str,
        timezone: str,
        clock: Clock,
    ) -> None:
        self._template = template
        self._limits = limits
        self._locale = locale
        self._timezone = timezone
        self._clock = clock
        self.field = field

    def render(self, user: Mapping[str, Any], data: Mapping[str, Any], *, locale: str | None = None) -> str:
        """The text for one user; RenderError (naming the field, and the line when known) on failure."""
        if locale is not None:
            try:
                parse_locale(locale)
            except RenderError as exc:
                raise RenderError(exc.reason, field=self.field) from None
        state = RenderState(self._limits, locale or self._locale, self._timezone, now=self._clock())
        token = budget.enter(state)
        try:
            text = self._template.render({"user": user, "data": data})
        except RenderError as exc:
            raise RenderError(exc.reason, field=self.field, line=exc.line or _template_line(exc)) from exc
        except Exception as exc:
            raise RenderError(_describe(exc), field=self.field, line=_template_line(exc)) from exc
        finally:
            budget.leave(token)
        if len(text) > self._limits.max_output:
            raise RenderError(
                f"rendered text is longer than {self._limits.max_output} characters", field=self.field
            )
        return text


class Renderer:
    """Compiles and caches message templates; one per process is enough (it is thread-safe)."""

    def __init__(
        self,
        default_locale: str = "en-US",
        default_timezone: str = "UTC",
        *,
        limits: RenderLimits | None = None,
        cache_size: int = 512,
        inline_syntax: Syntax = "handlebars",
        clock: Clock = _utc_now,
    ) -> None:
        try:
            parse_locale(default_locale)
        except RenderError as exc:
            raise ConfigurationError("default_locale", exc.reason) from None
        try:
            resolve_timezone(default_timezone)
        except RenderError as exc:
            raise ConfigurationError("default_timezone", exc.reason) from None
        if inline_syntax not in _SYNTAXES:
            raise ConfigurationError("templateSyntax", f"must be one of {', '.join(_SYNTAXES)}")
        self.default_locale = default_locale
        self.default_timezone = default_timezone
        #: the syntax of messages written in a request (messageTitle, messageContent): templateSyntax
        self.inline_syntax: Syntax = inline_syntax
        self.limits = limits or RenderLimits()
        self._clock = clock
        self._environments = {
            html: TemplateSandbox(html=html, functions=TEMPLATE_FUNCTIONS) for html in (False, True)
        }
        self._compile_cached = functools.lru_cache(maxsize=cache_size)(self._compile_source)

    def _compile_source(self, source: str, html: bool, syntax: Syntax) -> Template | HandlebarsTemplate:
        if syntax == "handlebars":
            return HandlebarsTemplate(source, html=html)
        environment = self._environments[html]
        try:
            return environment.from_string(source)
        except TemplateSyntaxError as exc:
            raise RenderError(exc.message or "syntax error", line=exc.lineno) from exc
        except RenderError:
            raise
        except Exception as exc:  # e.g. an integer literal too long for Python
            raise RenderError(_describe(exc)) from exc

    def compile(
        self, source: str, *, field: str, html: bool = False, syntax: Syntax = "jinja"
    ) -> CompiledTemplate:
        """Compile (or take from the cache) one field's template; RenderError with field and line if bad."""
        if syntax not in _SYNTAXES:
            raise RenderError(f"unknown template syntax {syntax!r}", field=field)
        if len(source) > self.limits.max_source:
            raise RenderError(f"template is longer than {self.limits.max_source} characters", field=field)
        try:
            template = self._compile_cached(source, bool(html), syntax)
        except RenderError as exc:
            raise RenderError(exc.reason, field=field, line=exc.line) from exc.__cause__
        return CompiledTemplate(
            template,
            field=field,
            limits=self.limits,
            locale=self.default_locale,
            timezone=self.default_timezone,
            clock=self._clock,
        )

    def check(self, source: str, *, field: str, html: bool = False, syntax: Syntax = "jinja") -> None:
        """Raise RenderError if ``source`` does not compile; for validating templates when saved."""
        self.compile(source, field=field, html=html, syntax=syntax)
