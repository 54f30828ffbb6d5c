"""Which localised variant a user gets: ``it-IT`` → ``it`` → the default fields."""

from __future__ import annotations

from host.templates.locales import locale_chain, pick_variant


def test_the_variant_falls_back_from_region_to_language_to_default() -> None:
    assert locale_chain("it_IT") == ["it-it", "it"]
    variants = ["it", "de-AT"]
    assert pick_variant(variants, "it-IT") == "it"
    assert pick_variant(variants, "DE_at") == "de-AT"
    assert pick_variant(variants, "de") is None
    assert pick_variant(variants, None) is None
