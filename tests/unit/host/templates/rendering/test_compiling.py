"""The compile budget: size (characters, tags) checked before parsing, CPU time measured, refusals cached,
and compiling off the event loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from host.errors import RenderError
from host.templates.rendering import Renderer
from host.templates.rendering.budget import RenderLimits
from host.templates.rendering.compiling import count_tags
from host.templates.rendering.renderer import Syntax

SYNTAXES = ["jinja", "handlebars"]


def test_tags_are_the_openings_of_both_syntaxes() -> None:
    assert count_tags("{{ a }} {% if b %}{{{c}}}{% endif %} {# not a tag #} {") == 4


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_a_field_over_the_tag_budget_is_refused_before_parsing(syntax: str) -> None:
    renderer = Renderer()
    within = "{{a.b}}" * renderer.limits.max_tags
    assert renderer.compile(within, field="messageContent", syntax=syntax).render({}, {"a": {}}) == ""
    with pytest.raises(RenderError) as caught:
        renderer.compile("{{a.b}}" * 23000 + "{{", field="messageContent", syntax=syntax)
    assert caught.value.field == "messageContent"
    assert str(caught.value).startswith("messageContent: template has 23001 tags, more than the 1000 allowed")
    assert len(renderer.cache) == 1  # nothing was parsed for the refused one


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_a_compile_over_its_cpu_time_is_refused_and_the_refusal_kept(syntax: str) -> None:
    renderer = Renderer(limits=RenderLimits(compile_seconds=1e-6))
    source = "{{#if a}}{{b.c}}{{/if}}" if syntax == "handlebars" else "{% if a %}{{ b.c }}{% endif %}"
    with pytest.raises(
        RenderError, match=r"^emailMessage: compiling took .* s of CPU, more than the 1e-06 s"
    ):
        renderer.compile(source * 300, field="emailMessage", syntax=syntax)
    hits = renderer.cache.hits
    with pytest.raises(RenderError, match=r"^locales\.de\.emailMessage: compiling took"):
        renderer.compile(source * 300, field="locales.de.emailMessage", syntax=syntax)
    assert renderer.cache.hits == hits + 1  # the second refusal cost a lookup, not a compile


class PausedOnce(Renderer):
    """A renderer whose first compile is held up by a pause that is not the template's (CPU burnt)."""

    def __init__(self, pause: float) -> None:
        super().__init__(limits=RenderLimits(compile_seconds=0.05))
        self.pause = pause
        self.compiles = 0

    def _compile_source(self, source: str, html: bool, syntax: Syntax) -> Any:
        self.compiles += 1
        if self.compiles == 1:
            started = time.thread_time()
            while time.thread_time() - started < self.pause:
                pass
        return super()._compile_source(source, html, syntax)


def test_a_pause_over_the_cpu_budget_is_not_held_against_the_template() -> None:
    renderer = PausedOnce(pause=0.1)
    template = renderer.compile("hello", field="emailMessage")  # over 0.05 s once, then within it
    assert (renderer.compiles, template.render({}, {})) == (2, "hello")
    renderer = PausedOnce(pause=0.0)
    renderer.compile("{{a}}", field="emailMessage")
    assert renderer.compiles == 1  # within the budget: compiled once


@pytest.mark.parametrize("syntax", SYNTAXES)
async def test_compile_async_leaves_the_event_loop_free(syntax: str) -> None:
    renderer = Renderer()
    heavy = "{{a.b.c.d}}" * renderer.limits.max_tags  # within the budget, and not cached
    compiling = asyncio.create_task(renderer.compile_async(heavy, field="messageContent", syntax=syntax))
    await asyncio.sleep(0)  # the task starts: on the loop it would compile to the end right here
    assert not compiling.done()  # it is waiting for a worker thread, and this coroutine runs meanwhile
    template = await compiling
    assert template.render({}, {}) == ""
    hits = renderer.cache.hits
    again = await renderer.compile_async(heavy, field="messageTitle", syntax=syntax)  # cached: no thread
    assert renderer.cache.hits == hits + 1 and again.field == "messageTitle"
    with pytest.raises(RenderError, match=r"^messageTitle: template has"):
        await renderer.compile_async(heavy + "{{x}}", field="messageTitle", syntax=syntax)


@pytest.mark.parametrize("syntax", SYNTAXES)
async def test_check_async_asks_another_process_and_keeps_its_verdict(syntax: str) -> None:
    renderer = Renderer()
    try:
        heavy = "{{a.b.c}}" * 500
        await renderer.check_async(
            heavy, field="emailMessage", syntax=syntax
        )  # the checking process says yes
        broken = heavy + ("{{#if}}" if syntax == "handlebars" else "\n{% if %}")
        with pytest.raises(RenderError) as caught:
            await renderer.check_async(broken, field="emailMessage", syntax=syntax)
        assert caught.value.field == "emailMessage" and caught.value.line is not None
        hits = renderer.cache.hits
        with pytest.raises(RenderError):  # the refusal was kept: no second trip to the process
            await renderer.check_async(broken, field="emailMessage", syntax=syntax)
        assert renderer.cache.hits == hits + 1
        assert renderer.compile(heavy, field="emailMessage", syntax=syntax).render({}, {}) == ""
    finally:
        renderer.close()
