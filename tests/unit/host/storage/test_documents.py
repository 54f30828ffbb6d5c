"""``utcnow``: the current instant, timezone-aware, cut to the milliseconds MongoDB keeps."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from host.storage.documents import utcnow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def test_utcnow_is_aware_whole_milliseconds_and_now() -> None:
    before = time.time_ns() // 1_000_000
    now = utcnow()
    after = time.time_ns() // 1_000_000
    assert now.tzinfo is UTC and now.microsecond % 1000 == 0
    assert before <= (now - _EPOCH) // timedelta(milliseconds=1) <= after


def test_milliseconds_over_a_thousand_give_the_exact_millisecond() -> None:
    # what utcnow relies on: the float's error is far below the half microsecond fromtimestamp rounds at
    picks = random.Random(15)
    for ms in [0, 1, 999, 4_102_444_799_999, *(picks.randrange(4_102_444_800_000) for _ in range(100_000))]:
        assert datetime.fromtimestamp(ms / 1000, UTC) == _EPOCH + timedelta(milliseconds=ms), ms
