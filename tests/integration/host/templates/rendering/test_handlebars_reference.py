"""Tidings renders Handlebars as handlebars.js 4.7 + handlebars-helpers 0.10 do: the differential test.

Every case of the corpus (tests/support/handlebars_corpus.py) goes through the real libraries under Node
(one process for the whole corpus) and through Tidings; the outputs must be identical, or both must fail.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from host.errors import RenderError
from host.templates.rendering import Renderer
from tests.support.handlebars_corpus import CASES, DATA, NOW, USER, Case
from tests.support.handlebars_reference import REFERENCE, ReferenceResult, render_reference


def _context(case: Case) -> dict[str, Any]:
    # both sides read the same JSON, as a request body or a stored document would give it
    context = {
        "user": case.user if case.user is not None else USER,
        "data": case.data if case.data is not None else DATA,
    }
    return json.loads(json.dumps(context))


@pytest.fixture(scope="module")
def reference() -> dict[str, ReferenceResult]:
    cases = [
        {
            "id": case.name,
            "template": case.template,
            "context": _context(case),
            "html": case.html,
            "locale": case.locale or "en-US",
        }
        for case in CASES
    ]
    return render_reference(cases, NOW)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    now = datetime.fromisoformat(NOW)
    return Renderer(clock=lambda: now)


def _version(package: str) -> str:
    manifest = REFERENCE / "node_modules" / package / "package.json"
    return str(json.loads(Path(manifest).read_text())["version"])


def test_the_reference_is_the_pinned_libraries(reference: dict[str, ReferenceResult]) -> None:
    assert _version("handlebars").startswith("4.7.")
    assert _version("handlebars-helpers") == "0.10.0"
    assert len({case.name for case in CASES}) == len(CASES) >= 200
    rendered = sum(result.ok for result in reference.values())
    assert rendered >= 0.9 * len(CASES)  # the corpus is about output, not about errors


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_tidings_renders_as_handlebars_js(
    case: Case, reference: dict[str, ReferenceResult], renderer: Renderer
) -> None:
    expected = reference[case.name]
    context = _context(case)

    def render() -> str:
        template = renderer.compile(case.template, field="body", syntax="handlebars", html=case.html)
        return template.render(context["user"], context["data"], locale=case.locale)

    if not expected.ok:
        with pytest.raises(RenderError):
            render()
        return
    assert render() == expected.output
