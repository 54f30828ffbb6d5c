"""The renderer: compiles message templates once, renders them per user within the render limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from jinja2 import Template, TemplateSyntaxError

from host.errors import ConfigurationError, RenderError
from host.templates.rendering import budget
from host.templates.rendering.budget import RenderLimits, RenderState
from host.templates.rendering.checking import CheckPool, CheckUnavailable, Verdict
from host.templates.rendering.compiling import CompileCache, budget_problem, count_tags, refused
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
#: a source this small compiles in place (about a millisecond in Jinja, less in Handlebars): a thread
#: or the checking process would cost as much as the compile itself
_IN_PLACE_TAGS = 8
_IN_PLACE_CHARS = 4096


class _Checked:
    """A cache entry: the checking process said this source compiles (compiled here when first needed)."""


CHECKED = _Checked()


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


def _in_place(source: str) -> bool:
    return len(source) <= _IN_PLACE_CHARS and count_tags(source) <= _IN_PLACE_TAGS


#: the checking process's renderers, one per limits (host.templates.rendering.checking)
_CHECKERS: dict[RenderLimits, Renderer] = {}


def _verdict_in_child(source: str, html: bool, syntax: Syntax, limits: RenderLimits) -> Verdict:
    """Run in the checking process: None if ``source`` compiles, else the refusal's (reason, line)."""
    renderer = _CHECKERS.get(limits)
    if renderer is None:
        renderer = _CHECKERS[limits] = Renderer(limits=limits)
    try:
        renderer.check(source, field="", html=html, syntax=syntax)
    except RenderError as exc:
        return exc.reason, exc.line
    return None


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
    """Compiles and caches message templates; one per process is enough (it is thread-safe).

    Compiling is bounded (:mod:`host.templates.rendering.compiling`: size, tags, CPU time) and cached by
    source; code on an event loop calls :meth:`compile_async`, which compiles off the loop.
    """

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
        #: compiled templates and refusals by source (host.templates.rendering.compiling)
        self.cache = CompileCache(cache_size)
        self._checks = CheckPool(_verdict_in_child)

    def _compile_source(self, source: str, html: bool, syntax: Syntax) -> Template | HandlebarsTemplate:
        if syntax == "handlebars":
            return HandlebarsTemplate(source, html=html)  # its parser refuses nesting deeper than 40
        environment = self._environments[html]
        try:
            return environment.from_string(source)
        except TemplateSyntaxError as exc:
            raise RenderError(exc.message or "syntax error", line=exc.lineno) from exc
        except RenderError:
            raise
        except RecursionError as exc:  # Jinja's parser recurses: 3,000 nested parentheses exhaust it
            raise RenderError("expressions are nested too deeply") from exc
        except Exception as exc:  # e.g. an integer literal too long for Python
            raise RenderError(_describe(exc)) from exc

    def _measured(
        self, source: str, html: bool, syntax: Syntax
    ) -> Template | HandlebarsTemplate | RenderError:
        """Compile, or the RenderError that refuses it: too slow (CPU time of this thread) included.

        Over the time budget, the source is compiled once more and refused only if that compile is over
        it too: a refusal is cached, and a pause that was not the template's (the collector walking a big
        heap on this thread, say) must not refuse it for good. The test process once measured 2.1 s for a
        source that compiles in 31 ms.
        """
        allowed = self.limits.compile_seconds
        spent = 0.0
        for _attempt in range(2):
            started = time.thread_time()
            try:
                template = self._compile_source(source, html, syntax)
            except RenderError as exc:
                return exc
            spent = time.thread_time() - started
            if spent <= allowed:
                return template
        return RenderError(f"compiling took {spent:.1f} s of CPU, more than the {allowed:g} s allowed")

    def _key(self, source: str, *, field: str, html: bool, syntax: Syntax) -> tuple[str, bool, Syntax]:
        """The cache key of a source within the size budget; RenderError naming the field otherwise."""
        if syntax not in _SYNTAXES:
            raise RenderError(f"unknown template syntax {syntax!r}", field=field)
        problem = budget_problem(source, self.limits)
        if problem is not None:
            raise RenderError(problem, field=field)
        return source, bool(html), syntax

    def _compiled(self, found: Template | HandlebarsTemplate | RenderError, field: str) -> CompiledTemplate:
        error = refused(found)
        if error is not None:
            raise RenderError(error.reason, field=field, line=error.line) from error.__cause__
        assert not isinstance(found, RenderError)
        return CompiledTemplate(
            found,
            field=field,
            limits=self.limits,
            locale=self.default_locale,
            timezone=self.default_timezone,
            clock=self._clock,
        )

    def compile(
        self, source: str, *, field: str, html: bool = False, syntax: Syntax = "jinja"
    ) -> CompiledTemplate:
        """Compile (or take from the cache) one field's template; RenderError with field and line if bad.

        On this thread: code on an event loop awaits :meth:`compile_async` instead.
        """
        key = self._key(source, field=field, html=html, syntax=syntax)
        found = self.cache.get(key)
        if found is None or found is CHECKED:
            found = self._measured(*key)
            self.cache.put(key, found)
        return self._compiled(found, field)

    async def compile_async(
        self, source: str, *, field: str, html: bool = False, syntax: Syntax = "jinja"
    ) -> CompiledTemplate:
        """:meth:`compile`, off the event loop: a template not cached yet is compiled in a worker thread
        (a small one in place)."""
        key = self._key(source, field=field, html=html, syntax=syntax)
        found = self.cache.get(key)
        if found is not None and found is not CHECKED:
            return self._compiled(found, field)
        if _in_place(source):
            return self.compile(source, field=field, html=html, syntax=syntax)
        return await asyncio.to_thread(self.compile, source, field=field, html=html, syntax=syntax)

    def check(self, source: str, *, field: str, html: bool = False, syntax: Syntax = "jinja") -> None:
        """Raise RenderError if ``source`` does not compile; for validating templates when saved.

        A verdict already cached (:meth:`check_async`'s) is taken as it is: nothing is compiled again.
        """
        key = self._key(source, field=field, html=html, syntax=syntax)
        found: Any = self.cache.get(key)
        if found is None:
            found = self._measured(*key)
            self.cache.put(key, found)
        if found is not CHECKED:
            self._compiled(found, field)

    async def check_async(
        self, source: str, *, field: str, html: bool = False, syntax: Syntax = "jinja"
    ) -> None:
        """:meth:`check`, off the event loop and its GIL: the checking process compiles (a small source is
        compiled in place), and the verdict is cached by source like a compiled template."""
        key = self._key(source, field=field, html=html, syntax=syntax)
        found: Any = self.cache.get(key)
        if found is None and _in_place(source):
            found = self._measured(*key)
            self.cache.put(key, found)
        elif found is None:
            allowance = max(10.0, self.limits.compile_seconds * 10)
            try:
                async with asyncio.timeout(allowance):
                    verdict = await self._checks.verdict(*key, self.limits)
            except TimeoutError:
                raise RenderError(f"compiling took longer than {allowance:g} s", field=field) from None
            except CheckUnavailable:  # no process to check in: a worker thread of this one
                found = await asyncio.to_thread(self._measured, *key)
            else:
                found = CHECKED if verdict is None else RenderError(verdict[0], line=verdict[1])
            self.cache.put(key, found)
        if found is not CHECKED:
            self._compiled(found, field)  # raises the refusal, naming the field

    def close(self) -> None:
        """Stop the checking process, if one was started (the Runtime's close)."""
        self._checks.close()
