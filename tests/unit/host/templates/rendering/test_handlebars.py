"""Handlebars templates written for the Mia service: the language's rules, errors with lines, the sandbox.

The differential test against handlebars.js itself is
tests/integration/host/templates/rendering/test_handlebars_reference.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from host.errors import RenderError
from host.templates.rendering import Renderer


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def hbs(
    renderer: Renderer, source: str, data: dict[str, Any] | None = None, *, html: bool = False, **user: Any
) -> str:
    template = renderer.compile(source, field="body", syntax="handlebars", html=html)
    return template.render(user, data or {})


@pytest.mark.parametrize(("kind", "expected"), [("patients", "Dear patient"), ("doctors", "Dear doctor")])
def test_if_else_with_eq(renderer: Renderer, kind: str, expected: str) -> None:
    source = '{{#if (eq data.type "patients")}}Dear patient{{else}}Dear doctor{{/if}}'
    assert hbs(renderer, source, {"type": kind}) == expected


def test_else_if_chain_and_comparisons(renderer: Renderer) -> None:
    source = "{{#if (gt data.n 10)}}big{{else if (gte data.n 5)}}medium{{else}}small{{/if}}"
    assert [hbs(renderer, source, {"n": n}) for n in (11, 5, 1)] == ["big", "medium", "small"]
    assert hbs(renderer, "{{#if (lt data.missing 3)}}y{{else}}n{{/if}}") == "n"
    assert hbs(renderer, "{{#if (and data.a (or data.b (not data.c)))}}y{{/if}}", {"a": 1}) == "y"


def test_handlebars_truthiness(renderer: Renderer) -> None:
    source = "{{#if data.v}}T{{else}}F{{/if}}"
    values = [0, "", [], None, False, {}, "0", [0], 1]
    assert "".join(hbs(renderer, source, {"v": v}) for v in values) == "FFFFFTTTT"
    assert hbs(renderer, "{{#if data.v includeZero=true}}T{{/if}}", {"v": 0}) == "T"


def test_unless(renderer: Renderer) -> None:
    source = "{{#unless user.verified}}Please verify your address.{{/unless}}"
    assert hbs(renderer, source, verified=False) == "Please verify your address."
    assert hbs(renderer, source, verified=True) == ""


def test_each_with_index_and_this(renderer: Renderer) -> None:
    source = (
        "{{#each data.tags}}{{@index}}:{{this}} {{/each}}|"
        "{{#each data.people}}{{this.name}}/{{name}} {{/each}}"
    )
    data = {"tags": ["a", "b"], "people": [{"name": "Ada"}, {"name": "Bob"}]}
    assert hbs(renderer, source, data) == "0:a 1:b |Ada/Ada Bob/Bob "


def test_each_over_an_object_with_key_first_last_and_else(renderer: Renderer) -> None:
    source = "{{#each data.m}}{{#if @first}}[{{/if}}{{@key}}={{this}}{{#unless @last}},{{/unless}}{{/each}}]"
    assert hbs(renderer, source, {"m": {"x": 1, "y": 2}}) == "[x=1,y=2]"
    assert hbs(renderer, "{{#each data.none}}x{{else}}empty{{/each}}") == "empty"


def test_each_reaches_outer_contexts(renderer: Renderer) -> None:
    source = (
        "{{#each data.items as |item i|}}"
        "{{i}}.{{item.n}} {{../data.unit}}{{@root.data.unit}} {{@root.user.name}};"
        "{{/each}}"
    )
    data = {"items": [{"n": 1}, {"n": 2}], "unit": "kg"}
    assert hbs(renderer, source, data, name="Mario") == "0.1 kgkg Mario;1.2 kgkg Mario;"
    # as in handlebars.js (no "compat" lookup), a plain name inside a loop reads only the current item
    assert hbs(renderer, "{{#each data.items}}[{{user.name}}{{n}}]{{/each}}", data, name="Mario") == "[1][2]"


def test_with_lookup_and_paths(renderer: Renderer) -> None:
    data = {"address": {"city": "Rome"}, "list": ["a", "b"], "key": "city", "odd key": 7}
    source = (
        "{{#with data.address}}{{city}}{{/with}} {{data.list.length}} {{data.list.[1]}} {{data.[odd key]}}"
    )
    assert hbs(renderer, source + " {{lookup data.address data.key}}", data) == "Rome 2 b 7 Rome"


def test_date_format_with_hash_arguments(renderer: Renderer) -> None:
    source = '{{dateFormat data.when format="DD/MM/YYYY HH:mm" tz="Europe/Rome"}} {{dateFormat data.when}}'
    text = hbs(renderer, source, {"when": "2024-10-27T01:30:00Z"})
    assert text == "27/10/2024 02:30 2024-10-27T01:30:00Z"  # day.js' default format writes UTC as Z


def test_date_now_and_nested_helpers(renderer: Renderer) -> None:
    text = hbs(renderer, '{{dateNow}} {{dateFormat (dateNow) format="YYYY"}}')
    now, year = text.split()
    assert now.endswith("Z") and now.startswith(year)


def test_triple_stash_is_not_escaped_double_is(renderer: Renderer) -> None:
    data = {"v": "<b>Hi</b>"}
    assert (
        hbs(renderer, "{{data.v}}|{{{data.v}}}|{{& data.v}}", data, html=True)
        == "&lt;b&gt;Hi&lt;/b&gt;|<b>Hi</b>|<b>Hi</b>"
    )
    assert hbs(renderer, "{{data.v}}", data) == "<b>Hi</b>"


def test_comments_whitespace_control_and_standalone_lines(renderer: Renderer) -> None:
    source = (
        "{{! a comment }}A{{!-- a }} long one --}}B\n{{#if data.x}}\n  yes\n{{/if}}\nC {{~ data.y ~}}  D\n"
    )
    assert hbs(renderer, source, {"x": True, "y": "!"}) == "AB\n  yes\nC!D\n"


def test_javascript_printing_of_values(renderer: Renderer) -> None:
    data = {"t": True, "f": 2.0, "l": [1, "a"], "o": {"a": 1}, "n": None}
    assert (
        hbs(renderer, "{{data.t}} {{data.f}} {{data.l}} {{data.o}} [{{data.n}}]", data)
        == "true 2 1,a [object Object] []"
    )


def test_escaped_mustache_and_jinja_lookalikes_stay_text(renderer: Renderer) -> None:
    source = "\\{{user.name}} {% raw %} {# no #} {{user.name}}"
    assert hbs(renderer, source, name="Ada") == "{{user.name}} {% raw %} {# no #} Ada"


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("a\n{{#if data.x}}\nb", 2, "never closed"),
        ("{{#each data.x}}\n{{/if}}", 2, "does not close {{#each}}"),
        ("\n\n{{> partial}}", 3, "partials"),
        ("{{#custom x}}{{/custom}}", 1, "unknown helper 'custom'"),
        ("\n{{shout data.x}}", 2, "unknown helper 'shout'"),
        ("{{data.x", 1, "never closed"),
        ("\n\n\n{{read 'x.txt'}}", 4, "helper 'read' is not allowed in message templates: it reads files"),
        ("{{data.items.0}}", 1, "expected"),
    ],
)
def test_unsupported_or_broken_templates_report_the_line(
    renderer: Renderer, source: str, line: int, message: str
) -> None:
    with pytest.raises(RenderError, match=message) as caught:
        renderer.compile(source, field="emailHtmlMessage", syntax="handlebars")
    assert (caught.value.field, caught.value.line) == ("emailHtmlMessage", line)


def test_render_errors_point_at_the_handlebars_line(renderer: Renderer) -> None:
    template = renderer.compile("ok\n\n{{dateFormat data.d}}", field="smsMessage", syntax="handlebars")
    with pytest.raises(RenderError) as caught:
        template.render({}, {"d": "not a date"})
    assert caught.value.line == 3


def test_handlebars_reaches_only_the_values_own_keys(renderer: Renderer) -> None:
    assert hbs(renderer, "{{data.__class__}}{{this.constructor}}{{user.__proto__}}") == ""
    # lookup reads a value's own keys, as handlebars.js does: no Python attribute is ever reachable
    source = (
        "[{{lookup data.s '__class__'}}][{{lookup data.s 'upper'}}][{{lookup data.m 'keys'}}]{{data.m.items}}"
    )
    assert hbs(renderer, source, {"s": "x", "m": {"a": 1}}) == "[][][]"
