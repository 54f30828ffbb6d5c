"""Composing a channel's message: every variant compiled once per dispatch, within the compile budget."""

from __future__ import annotations

import pytest

from channels.email import EmailChannel, EmailConfig
from host.errors import RenderError
from host.plugins.channel import ChannelContext
from host.templates.composition import Composer
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
