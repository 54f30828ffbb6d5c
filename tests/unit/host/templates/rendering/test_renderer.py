"""Message templates: the Mia example, dates and locales, HTML mode, errors and the renderer's cache."""

from __future__ import annotations

from typing import Any

import pytest

from host.errors import ConfigurationError, RenderError
from host.templates.rendering import Renderer, RenderLimits


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def render(
    renderer: Renderer,
    source: str,
    user: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    **options: Any,
) -> str:
    locale = options.pop("locale", None)
    template = renderer.compile(source, field="body", **options)
    return template.render(user or {}, data or {}, locale=locale)


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


# --- dateFormat -----------------------------------------------------------------------------------------

ROME, NEW_YORK = "Europe/Rome", "America/New_York"
STAMP = "YYYY-MM-DD HH:mm:ss Z"


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        ("2024-03-31T00:59:59Z", ROME, "2024-03-31 01:59:59 +01:00"),  # last second of winter time
        ("2024-03-31T01:00:00Z", ROME, "2024-03-31 03:00:00 +02:00"),  # 02:00 never happens
        ("2024-10-27T00:59:59Z", ROME, "2024-10-27 02:59:59 +02:00"),  # fall back: 02:xx twice
        ("2024-10-27T01:00:00Z", ROME, "2024-10-27 02:00:00 +01:00"),
        ("2024-03-10T06:59:59Z", NEW_YORK, "2024-03-10 01:59:59 -05:00"),
        ("2024-03-10T07:00:00Z", NEW_YORK, "2024-03-10 03:00:00 -04:00"),
        ("2024-11-03T05:59:59Z", NEW_YORK, "2024-11-03 01:59:59 -04:00"),
        ("2024-11-03T06:00:00Z", NEW_YORK, "2024-11-03 01:00:00 -05:00"),
        ("2024-06-01T12:00:00+02:00", "Asia/Kolkata", "2024-06-01 15:30:00 +05:30"),
    ],
)
def test_date_format_across_zones_and_dst(renderer: Renderer, moment: str, zone: str, expected: str) -> None:
    text = render(
        renderer,
        "{{ dateFormat(data.at, data.format, data.tz) }}",
        data={"at": moment, "format": STAMP, "tz": zone},
    )
    assert text == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("DD/MM/YYYY", "05/03/2024"),
        ("D/M/YY", "5/3/24"),
        ("HH:mm:ss.SSS", "09:07:04.120"),
        ("h:mm A, hh a", "9:07 AM, 09 am"),
        ("ZZ", "+0000"),
        ("d dd ddd dddd", "2 Tu Tue Tuesday"),
        ("MMM MMMM", "Mar March"),
        ("[Today is] dddd [at] H:mm", "Today is Tuesday at 9:07"),
        ("[YYYY] YYYY", "YYYY 2024"),
    ],
)
def test_date_format_tokens(renderer: Renderer, pattern: str, expected: str) -> None:
    source = "{{ dateFormat('2024-03-05T09:07:04.120Z', data.pattern, 'UTC') }}"
    assert render(renderer, source, data={"pattern": pattern}) == expected


def test_date_format_defaults_are_iso_8601_in_utc(renderer: Renderer) -> None:
    assert render(renderer, "{{ dateFormat('2024-07-01T12:34:56+02:00') }}") == "2024-07-01T10:34:56+00:00"
    assert render(renderer, "{{ dateFormat('2024-07-01') }}") == "2024-07-01T00:00:00+00:00"


def test_date_format_takes_epoch_milliseconds_and_datetimes(renderer: Renderer) -> None:
    source = "{{ dateFormat(data.at, 'YYYY-MM-DD HH:mm:ss', 'Europe/Rome') }}"
    assert render(renderer, source, data={"at": 1711846799000}) == "2024-03-31 01:59:59"
    assert render(renderer, source, data={"at": 1711846800000}) == "2024-03-31 03:00:00"
    from datetime import datetime

    assert render(renderer, source, data={"at": datetime(2024, 1, 1, 12, 0)}) == "2024-01-01 13:00:00"


def test_date_format_uses_the_renderers_default_zone() -> None:
    rome = Renderer(default_timezone="Europe/Rome")
    assert render(rome, "{{ dateFormat('2024-08-01T10:00:00Z', 'HH:mm Z') }}") == "12:00 +02:00"


def test_date_format_of_a_missing_or_bad_date(renderer: Renderer) -> None:
    assert render(renderer, "[{{ dateFormat(data.nope, 'DD') }}]") == "[]"
    with pytest.raises(RenderError, match="cannot read '01/01/2021' as a date"):
        render(renderer, "{{ dateFormat(data.d) }}", data={"d": "01/01/2021"})
    with pytest.raises(RenderError, match="unknown time zone"):
        render(renderer, "{{ dateFormat('2024-01-01', 'DD', 'Mars/Olympus') }}")


def test_date_now_is_current_utc(renderer: Renderer) -> None:
    from datetime import UTC, datetime

    text = render(renderer, "{{ dateNow() }}|{{ dateFormat(dateNow(), 'YYYY') }}")
    now, year = text.split("|")
    assert now.endswith("Z")
    assert abs((datetime.fromisoformat(now) - datetime.now(UTC)).total_seconds()) < 5
    assert year == str(datetime.now(UTC).year)


# --- locales --------------------------------------------------------------------------------------------

LOCALISED = (
    "{{ formatNumber(1234567.891) }}|{{ formatCurrency(1234567.891, 'EUR') }}|"
    "{{ dateFormat('2024-03-31T12:00:00Z', 'dddd D MMMM') }}|{{ formatDate('2024-03-31T12:00:00Z', 'long') }}"
)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-US", "1,234,567.891|€1,234,567.89|Sunday 31 March|March 31, 2024"),
        ("it-IT", "1.234.567,891|1.234.567,89\xa0€|domenica 31 marzo|31 marzo 2024"),
        ("de-DE", "1.234.567,891|1.234.567,89\xa0€|Sonntag 31 März|31. März 2024"),
    ],
)
def test_locale_aware_formatting(renderer: Renderer, locale: str, expected: str) -> None:
    assert render(renderer, LOCALISED, locale=locale) == expected


def test_default_locale_and_explicit_locale_argument() -> None:
    italian = Renderer(default_locale="it-IT")
    assert render(italian, "{{ formatNumber(1234.5) }}") == "1.234,5"
    assert render(italian, "{{ formatNumber(1234.5, 'en-US') }}") == "1,234.5"
    assert render(italian, "{{ formatNumber('1234.50', format='#,##0.00') }}") == "1.234,50"


def test_unknown_locales_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="default_locale"):
        Renderer(default_locale="xx-QQ")
    with pytest.raises(RenderError, match="unknown locale"):
        render(Renderer(), "x", locale="xx-QQ")


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
    before = renderer._compile_cached.cache_info().hits
    first = renderer.compile(source, field="a")
    second = renderer.compile(source, field="b")
    assert renderer._compile_cached.cache_info().hits == before + 1
    assert (first.field, second.field) == ("a", "b")
    assert second.render({"name": "x"}, {}) == "cached x"
