"""What DATA puts on the wire: CRLF line ends, leading periods doubled, the final ``.`` line."""

from __future__ import annotations

import pytest

from channels.smtp_session import wire_data


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b"Subject: a\r\n\r\nbody\r\n", b"Subject: a\r\n\r\nbody\r\n.\r\n"),  # clean: only the end line
        (b"body", b"body\r\n.\r\n"),
        (b"a\nb\rc\r\nd", b"a\r\nb\r\nc\r\nd\r\n.\r\n"),  # bare LF and CR become CRLF
        (b".first\r\n.\r\nx.y\r\n..two\r\n", b"..first\r\n..\r\nx.y\r\n...two\r\n.\r\n"),
        (b"a\n.b", b"a\r\n..b\r\n.\r\n"),  # a period after a bare LF too
        (b"", b"\r\n.\r\n"),
    ],
)
def test_wire_data(data: bytes, wire: bytes) -> None:
    assert wire_data(data) == wire
