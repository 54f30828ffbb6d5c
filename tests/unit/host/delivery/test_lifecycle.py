"""The delivery lifecycle moves forward only: a provider's final report is final."""

from __future__ import annotations

import pytest

from host.delivery.lifecycle import STATUSES, TRANSITIONS, IllegalTransition, advance, allowed


@pytest.mark.parametrize("final", ["delivered", "undelivered"])
def test_a_providers_report_is_final(final: str) -> None:
    assert [to for origin, to in TRANSITIONS if origin == final] == []
    for status in STATUSES:
        assert not allowed(final, status)
    with pytest.raises(IllegalTransition):
        advance({"status": final}, "undelivered" if final == "delivered" else "delivered")


def test_only_a_sent_message_takes_a_report() -> None:
    assert {origin for origin, to in TRANSITIONS if to in ("delivered", "undelivered")} == {"sent"}
