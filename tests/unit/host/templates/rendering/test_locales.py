"""The locales of a render: an unknown one is refused, as the renderer's default or for one render."""

from __future__ import annotations

import pytest

from host.errors import ConfigurationError, RenderError
from host.templates.rendering import Renderer
from tests.support.rendering import render


def test_unknown_locales_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="default_locale"):
        Renderer(default_locale="xx-QQ")
    with pytest.raises(RenderError, match="unknown locale"):
        render(Renderer(), "x", locale="xx-QQ")
