"""Tidings' own rules for Handlebars, where the differential test cannot speak: HTML bodies, refusals,
render limits, errors with field and line, the render clock, and the helpers Tidings adds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from host.errors import RenderError
from host.templates.rendering import Renderer, RenderLimits
from host.templates.rendering.handlebars.helpers import HELPERS, REFUSED

NOW = datetime(2025, 3, 10, 12, 34, 56, 789000, tzinfo=UTC)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(clock=lambda: NOW)


def render(
    renderer: Renderer, source: str, data: dict[str, Any] | None = None, *, html: bool = False, **user: Any
) -> str:
    template = renderer.compile(
        source, field="emailHtmlMessage" if html else "smsMessage", html=html, syntax="handlebars"
    )
    return template.render(user, data or {})


# --- HTML bodies (SPEC §4) ---


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\n\r"])
def test_html_values_are_escaped_then_their_newlines_become_br(renderer: Renderer, newline: str) -> None:
    data = {"v": f"a & b{newline}<c>"}
    assert render(renderer, "<p>{{data.v}}</p>", data, html=True) == "<p>a &amp; b<br/>&lt;c&gt;</p>"


def test_html_escaping_is_handlebars_own(renderer: Renderer) -> None:
    data = {"v": "\"'`=&<>"}
    assert render(renderer, "{{data.v}}", data, html=True) == "&quot;&#x27;&#x60;&#x3D;&amp;&lt;&gt;"


def test_raw_values_template_text_and_block_output_are_left_as_they_are(renderer: Renderer) -> None:
    data = {"v": "<b>1</b>\n<i>2</i>"}
    source = "{{{data.v}}}|{{& data.v}}|<br>\n{{#uppercase}}<p>{{/uppercase}}|{{upcase data.v}}"
    assert render(renderer, source, data, html=True) == (
        "<b>1</b>\n<i>2</i>|<b>1</b>\n<i>2</i>|<br>\n<P>|&lt;B&gt;1&lt;/B&gt;<br/>&lt;I&gt;2&lt;/I&gt;"
    )


def test_text_fields_never_escape_nor_break_lines(renderer: Renderer) -> None:
    data = {"v": "Tom & 'Jerry'\n<3"}
    assert render(renderer, "{{data.v}}|{{{data.v}}}", data) == "Tom & 'Jerry'\n<3|Tom & 'Jerry'\n<3"


# --- helpers refused at save time ---


@pytest.mark.parametrize("name", sorted(REFUSED))
@pytest.mark.parametrize(
    "shape", ["{{%s}}", "{{%s data.x}}", "{{#%s}}x{{/%s}}", "{{#if (%s data.x)}}x{{/if}}"]
)
def test_refused_helpers_are_named_with_their_line(renderer: Renderer, name: str, shape: str) -> None:
    source = "first line\n" + shape.replace("%s", name)
    with pytest.raises(RenderError) as caught:
        renderer.compile(source, field="emailMessage", syntax="handlebars")
    assert (caught.value.field, caught.value.line) == ("emailMessage", 2)
    assert f"helper {name!r} is not" in caught.value.reason


def test_the_refused_ones_are_those_that_touch_files_the_network_or_the_process() -> None:
    reasons = {name: reason.split(": it ")[-1] for name, reason in REFUSED.items()}
    assert (
        reasons["read"]
        == reasons["readdir"]
        == reasons["embed"]
        == reasons["md"]
        == "reads files on the server"
    )
    assert reasons["gist"] == reasons["jsfiddle"] == "loads content from the network"
    assert reasons["log"] == reasons["warn"] == "writes to the server's log"
    assert reasons["resolve"] == "reads the server's working directory"
    assert not set(REFUSED) & set(HELPERS)


def test_unknown_helpers_are_named_and_scoped_names_are_values(renderer: Renderer) -> None:
    for source in (
        "{{shout data.x}}",
        "{{#shout data.x}}{{/shout}}",
        "{{upcase (shout data.x)}}",
        "{{data.fn 1}}",
    ):
        with pytest.raises(RenderError, match="unknown helper"):
            renderer.compile(source, field="f", syntax="handlebars")
    # a key named like a refused helper is still readable as a value: this.log, ./read, data.embed
    data = {"items": [{"log": "L", "read": "R"}], "embed": "E"}
    assert (
        render(renderer, "{{#each data.items}}{{this.log}}{{./read}}{{/each}}{{data.embed}}", data) == "LRE"
    )


# --- limits ---


def test_runaway_loops_are_cut_by_the_work_budget(renderer: Renderer) -> None:
    rows = list(range(300))
    source = "{{#each data.r}}{{#each ../data.r}}{{#each ../../data.r}}.{{/each}}{{/each}}{{/each}}"
    with pytest.raises(RenderError, match="render took too long"):
        render(renderer, source, {"r": rows})


def test_text_produced_along_the_way_is_bounded(renderer: Renderer) -> None:
    data = {"rows": list(range(60)), "big": "x" * 20_000}
    # 60 × 60 × 20 kB: stopped once a megabyte is produced, long before the output is checked
    source = "{{#each data.rows}}{{#each ../data.rows}}{{../../data.big}}{{/each}}{{/each}}"
    with pytest.raises(RenderError, match="render produced too much text"):
        render(renderer, source, data)


def test_output_is_bounded() -> None:
    small = Renderer(limits=RenderLimits(max_output=1000))
    template = small.compile(
        "{{#each data.rows}}0123456789{{/each}}", field="smsMessage", syntax="handlebars"
    )
    with pytest.raises(RenderError, match="longer than 1000 characters") as caught:
        template.render({}, {"rows": list(range(200))})
    assert caught.value.field == "smsMessage"


def test_helpers_cannot_build_huge_values(renderer: Renderer) -> None:
    data = {"a": "a" * 1000, "many": ["x"] * 1000}
    cases = ['{{replace data.a "a" data.a}}', "{{join data.many data.a}}", '{{center "x" 100000000}}']
    for source in cases:
        with pytest.raises(RenderError, match=r"too large|too many"):
            render(renderer, source, data)


def test_nesting_is_bounded_at_compile_time(renderer: Renderer) -> None:
    source = "{{#if true}}" * 60 + "x" + "{{/if}}" * 60
    with pytest.raises(RenderError, match="nested deeper than 40"):
        renderer.compile(source, field="f", syntax="handlebars")
    deep = "{{upcase " + "(upcase " * 50 + "data.x" + ")" * 50 + "}}"
    with pytest.raises(RenderError, match="nested deeper than 40"):
        renderer.compile(deep, field="f", syntax="handlebars")
    assert (
        render(renderer, "{{upcase " + "(lowercase " * 30 + "data.x" + ")" * 30 + "}}", {"x": "ok"}) == "OK"
    )


def test_long_sources_are_refused() -> None:
    tiny = Renderer(limits=RenderLimits(max_source=100))
    with pytest.raises(RenderError, match="longer than 100 characters"):
        tiny.compile("x" * 101, field="f", syntax="handlebars")


# --- errors name the field and the line ---


def test_render_errors_name_the_field_and_the_helpers_line(renderer: Renderer) -> None:
    source = "Hello\n{{#each data.items}}\n  {{name}}\n  {{divide qty data.none}}\n{{/each}}"
    template = renderer.compile(source, field="pushMessage", syntax="handlebars")
    with pytest.raises(RenderError) as caught:
        template.render({}, {"items": [{"name": "a", "qty": 1}]})
    assert (caught.value.field, caught.value.line) == ("pushMessage", 4)
    assert caught.value.reason == "divide: expected the second argument to be a number"


def test_natural_language_dates_are_refused_where_date_js_would_guess(renderer: Renderer) -> None:
    with pytest.raises(RenderError, match="natural-language dates are not supported") as caught:
        render(renderer, '\n{{moment "next friday" "YYYY"}}')
    assert caught.value.line == 2
    with pytest.raises(RenderError, match="only English"):
        render(renderer, '{{moment "2024-05-01" "MMMM" lang="it"}}')


# --- the render clock and the helpers Tidings adds ---


def test_one_render_sees_one_now(renderer: Renderer) -> None:
    source = (
        '{{dateNow}} {{year}} {{moment "YYYY-MM-DD HH:mm:ss.SSS"}} {{dateFormat (dateNow) format="HH:mm"}}'
    )
    assert render(renderer, source) == "2025-03-10T12:34:56.789Z 2025 2025-03-10 12:34:56.789 12:34"


def test_moment_shows_the_default_time_zone() -> None:
    rome = Renderer(default_timezone="Europe/Rome", clock=lambda: NOW)
    template = rome.compile('{{moment data.d "HH:mm Z"}} {{moment}}', field="f", syntax="handlebars")
    assert template.render({}, {"d": "2024-07-01T10:00:00Z"}) == "12:00 +02:00 March 10, 2025"


def test_to_locale_defaults_to_the_render_locale(renderer: Renderer) -> None:
    template = renderer.compile("{{toLocale data.n}}", field="f", syntax="handlebars")
    assert template.render({}, {"n": 1234.5}) == "1,234.5"
    assert template.render({}, {"n": 1234.5}, locale="it-IT") == "1.234,5"
    with pytest.raises(RenderError, match="unknown locale"):
        render(renderer, '{{toLocale 1 locale="xx-nope"}}')


def test_random_stays_in_its_range(renderer: Renderer) -> None:
    template = renderer.compile("{{random 1 6}}", field="f", syntax="handlebars")
    rolls = {template.render({}, {}) for _ in range(300)}
    assert rolls <= {"1", "2", "3", "4", "5", "6"} and len(rolls) > 3


def test_tidings_format_helpers_remain(renderer: Renderer) -> None:
    source = (
        '{{formatNumber 1234.5 "it-IT"}}|{{formatNumber data.n locale="de-DE"}}|'
        '{{formatCurrency 12.5 "EUR" locale="it-IT"}}|{{formatDate data.d "long" locale="en-US"}}|'
        "{{#if (ne data.a data.b)}}differ{{/if}}"
    )
    data = {"n": 9876.5, "d": "2024-03-31T12:00:00Z", "a": 1, "b": 2}
    assert render(renderer, source, data) == "1.234,5|9.876,5|12,50\xa0€|March 31, 2024|differ"
