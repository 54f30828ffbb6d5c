"""The preview's SMS counter: GSM-7 and UCS-2 characters and segments, as carriers count them."""

from __future__ import annotations

from admin_ui.preview import count_sms


def test_sms_segments_follow_gsm7_and_ucs2() -> None:
    assert (count_sms("a" * 160).encoding, count_sms("a" * 160).segments) == ("GSM-7", 1)
    assert count_sms("a" * 161).segments == 2
    assert count_sms("€" * 80).units == 160 and count_sms("€" * 80).segments == 1
    assert (count_sms("ü" * 70).encoding, count_sms("ł" * 70).encoding) == ("GSM-7", "UCS-2")
    assert count_sms("ł" * 71).segments == 2
    assert count_sms("").segments == 0
