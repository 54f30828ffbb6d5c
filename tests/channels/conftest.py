"""Fixtures of the channel tests: the Twilio fake, started once per module and reset for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.twilio_numbers import INVALID
from tests.fakes.twilio import FakeTwilio


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[FakeTwilio]:
    with FakeTwilio(invalid_numbers={INVALID}) as running:
        yield running


@pytest.fixture
def fake(twilio_server: FakeTwilio) -> FakeTwilio:
    """The module's Twilio fake, with nothing received and nothing scripted."""
    twilio_server.reset()
    return twilio_server
