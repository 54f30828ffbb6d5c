"""Locale-aware numbers, currencies and dates in templates (Babel): per render, or the renderer's default."""

from __future__ import annotations

import pytest

from host.templates.rendering import Renderer
from tests.support.rendering import render


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


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
