"""Message templates: the Mia example in both syntaxes, missing values, HTML mode, errors with their field
and line, the output cap and the renderer's cache."""

from __future__ import annotations

import pytest

from host.errors import RenderError
from host.templates.rendering import Renderer, RenderLimits
from tests.support.rendering import render


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


# --- the Mia overview example, in both syntaxes ---------------------------------------------------------


@pytest.mark.parametrize("syntax", ["jinja", "handlebars"])
@pytest.mark.parametrize("html", [False, True])
def test_mia_overview_example(renderer: Renderer, syntax: str, html: bool) -> None:
    source = "Hello, {{user.name}}! Your appointment is dated {{data.appointmentDate}}"
    user = {"name": "Mario", "surname": "Rossi"}
    data = {"appointmentDate": "01/01/2021"}
    text = render(renderer, source, user, data, syntax=syntax, html=html)
    assert text == "Hello, Mario! Your appointment is dated 01/01/2021"


@pytest.mark.parametrize("syntax", ["jinja", "handlebars"])
def test_missing_values_render_empty(renderer: Renderer, syntax: str) -> None:
    text = render(
        renderer, "[{{user.missing.deep}}][{{data.none}}][{{nothing}}]", {}, {"none": None}, syntax=syntax
    )
    assert text == "[][][]"


def test_dict_keys_win_over_dict_methods(renderer: Renderer) -> None:
    data = {"items": "key", "values": [1, 2]}
    assert render(renderer, "{{ data.items }} {{ data['values']|length }}", data=data) == "key 2"
    assert render(renderer, "{% for k, v in data.items() %}{{ k }}{% endfor %}", data={"a": 1}) == "a"


# --- HTML mode ------------------------------------------------------------------------------------------


def test_html_mode_escapes_values_but_keeps_template_markup(renderer: Renderer) -> None:
    source = '<p class="x">{{ data.v }}</p>\n<br>'
    text = render(renderer, source, data={"v": "<script>alert('x')</script> & co"}, html=True)
    assert text == '<p class="x">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co</p>\n<br>'


@pytest.mark.parametrize("syntax", ["jinja", "handlebars"])
def test_html_mode_turns_every_newline_sequence_into_br(renderer: Renderer, syntax: str) -> None:
    text = render(renderer, "{{data.v}}", data={"v": "a\r\nb\n\rc\rd\ne<"}, html=True, syntax=syntax)
    assert text == "a<br/>b<br/>c<br/>d<br/>e&lt;"


def test_text_mode_does_not_escape(renderer: Renderer) -> None:
    assert render(renderer, "{{ data.v }}", data={"v": "<b>\n"}) == "<b>\n"


def test_safe_values_are_not_escaped(renderer: Renderer) -> None:
    assert render(renderer, "{{ data.v|safe }}", data={"v": "<b>\n</b>"}, html=True) == "<b>\n</b>"


# --- errors ---------------------------------------------------------------------------------------------


def test_syntax_error_reports_field_and_line(renderer: Renderer) -> None:
    with pytest.raises(RenderError) as caught:
        renderer.compile("Hello\n{{ user.name }}\n{% if %}", field="emailMessage")
    assert (caught.value.field, caught.value.line) == ("emailMessage", 3)
    assert str(caught.value).startswith("emailMessage, line 3: ")


def test_check_validates_without_rendering(renderer: Renderer) -> None:
    renderer.check("{{ user.name }}", field="smsMessage")
    with pytest.raises(RenderError, match="No filter named 'nope'"):
        renderer.check("{{ user.name|nope }}", field="smsMessage")


def test_render_error_reports_field_and_line(renderer: Renderer) -> None:
    template = renderer.compile("Total:\n{{ data.n / data.zero }}", field="pushMessage")
    with pytest.raises(RenderError) as caught:
        template.render({}, {"n": 1, "zero": 0})
    assert caught.value.field == "pushMessage"
    assert caught.value.line == 2
    assert "division by zero" in caught.value.reason


def test_output_is_capped() -> None:
    small = Renderer(limits=RenderLimits(max_output=100))
    assert render(small, "{{ data.v }}", data={"v": "x" * 100}) == "x" * 100
    with pytest.raises(RenderError, match="longer than 100"):
        render(small, "{{ data.v }}", data={"v": "x" * 101})


def test_compiled_templates_are_cached(renderer: Renderer) -> None:
    source = "cached {{ user.name }}"
    before = renderer.cache.hits
    first = renderer.compile(source, field="a")
    second = renderer.compile(source, field="b")
    assert renderer.cache.hits == before + 1
    assert (first.field, second.field) == ("a", "b")
    assert second.render({"name": "x"}, {}) == "cached x"
