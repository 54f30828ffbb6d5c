"""Composing a channel's message: every variant compiled once per dispatch, within the compile budget."""

from __future__ import annotations

import pytest

from channels.email import EmailChannel, EmailConfig
from host.errors import RenderError, RequestError
from host.plugins.channel import ChannelContext
from host.templates.composition import PASSED_TEXT, Composer, ContentChecks
from host.templates.rendering import Renderer

EMAIL = EmailChannel(EmailConfig(), ChannelContext(sender="noreply@example.com"))


async def test_a_dispatch_composes_per_user_from_templates_compiled_once() -> None:
    renderer = Renderer()
    dispatch = {"title": "Hi {{user.name}}", "content": "For {{data.what}}", "data": {"what": "you"}}
    composer = await Composer.prepare(renderer, EMAIL, dispatch, None)
    misses = renderer.cache.misses
    message = composer.compose({"name": "Ada"})
    assert (message.subject, message.text) == ("Hi Ada", "For you")
    assert composer.compose({"name": "Bob"}).subject == "Hi Bob"
    assert renderer.cache.misses == misses  # nothing compiled per user


async def test_a_stored_template_over_the_budget_fails_naming_its_field() -> None:
    """A template saved before the budget existed: the worker refuses it instead of compiling for seconds."""
    template = {"name": "old", "syntax": "jinja", "email_title": "t", "email_message": "{{ a.b }}" * 23000}
    with pytest.raises(RenderError, match=r"^emailMessage: template has 23000 tags"):
        await Composer.prepare(Renderer(), EMAIL, {}, template)
    variant = {**template, "email_message": "ok", "locales": {"de": {"email_message": "{{ a }}" * 1001}}}
    with pytest.raises(RenderError, match=r"^locales\.de\.emailMessage: template has 1001 tags"):
        await Composer.prepare(Renderer(), EMAIL, {}, variant)


def _lookups(renderer: Renderer) -> int:
    return renderer.cache.hits + renderer.cache.misses


async def test_content_checks_check_a_message_written_in_the_request_once() -> None:
    renderer = Renderer()
    checks = ContentChecks(renderer, size=2)
    channels = [("email", EMAIL)]
    await checks.check(channels, None, "Hi {{name}}", "Hello")
    seen = _lookups(renderer)
    await checks.check(channels, None, "Hi {{name}}", "Hello")
    assert _lookups(renderer) == seen  # remembered: nothing looked up again
    await checks.check(channels, None, "Hi {{name}}", "Hello again")  # other text: checked
    await checks.check(channels, None, "Third", "text")  # the first is forgotten (size 2)
    seen = _lookups(renderer)
    await checks.check(channels, None, "Hi {{name}}", "Hello")
    assert _lookups(renderer) > seen


async def test_content_checks_refuse_every_time_and_check_templates_every_time() -> None:
    renderer = Renderer()
    checks = ContentChecks(renderer)
    channels = [("email", EMAIL)]
    for _ in range(2):  # a refusal is not remembered as a pass
        with pytest.raises(RequestError, match=r"^messageContent: "):
            await checks.check(channels, None, "Hi", "{{#if}}")
    template = {"name": "t", "syntax": "jinja", "email_title": "Hi", "email_message": "Hello"}
    await checks.check(channels, template, None, None)
    seen = _lookups(renderer)
    await checks.check(channels, template, None, None)  # a stored template may have changed since
    assert _lookups(renderer) > seen
    long = "x" * (PASSED_TEXT + 1)
    await checks.check(channels, None, "Hi", long)
    seen = _lookups(renderer)
    await checks.check(channels, None, "Hi", long)  # too long to remember
    assert _lookups(renderer) > seen
