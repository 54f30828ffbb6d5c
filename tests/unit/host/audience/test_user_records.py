"""The record splitters: NDJSON lines and JSON-array elements, whatever the chunk boundaries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import msgspec
import pytest

from host.audience.user_records import JsonArraySplitter, RecordError, json_array_records, ndjson_records

USERS = [
    {"id": f"u{n}", "text": 'quote " backslash \\ comma , brackets ]}[{' + "é" * n, "nested": [1, {"a": [n]}]}
    for n in range(40)
]


async def chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 100_000])
async def test_json_array_elements_survive_any_chunking(size: int) -> None:
    body = json.dumps(USERS, indent=2, ensure_ascii=False).encode()
    records = [(n, msgspec.json.decode(raw)) async for n, raw in json_array_records(chunked(body, size))]
    assert records == list(enumerate(USERS, start=1))


@pytest.mark.parametrize("size", [1, 7, 100_000])
async def test_ndjson_lines_survive_any_chunking_and_keep_line_numbers(size: int) -> None:
    body = b"\n".join(json.dumps(u).encode() for u in USERS[:3]) + b"\n\n  \n" + json.dumps(USERS[3]).encode()
    records = [(n, msgspec.json.decode(raw)) async for n, raw in ndjson_records(chunked(body, size))]
    assert records == [(1, USERS[0]), (2, USERS[1]), (3, USERS[2]), (6, USERS[3])]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (b'{"id": 1}', 1, "not a JSON array"),
        (b"", 1, "empty"),
        (b"[1, 2", 2, "not closed"),
        (b"[1,,2]", 2, "empty element"),
        (b"[1,]", 2, "empty element"),
        (b"[1] [2]", 1, "after the end"),
    ],
)
def test_malformed_arrays_say_where(body: bytes, line: int, message: str) -> None:
    splitter = JsonArraySplitter()
    with pytest.raises(RecordError) as caught:
        splitter.feed(body)
        splitter.close()
    assert caught.value.line == line
    assert message in caught.value.message


def test_empty_array_and_byte_order_mark() -> None:
    splitter = JsonArraySplitter()
    assert splitter.feed(b"\xef\xbb\xbf [ \n ] \n") == []
    splitter.close()


async def test_oversized_records_are_refused() -> None:
    with pytest.raises(RecordError, match="longer than 10 bytes"):
        [r async for r in json_array_records(chunked(b'["' + b"x" * 50 + b'"]', 4), max_bytes=10)]
    with pytest.raises(RecordError, match="longer than 10 bytes"):
        [r async for r in ndjson_records(chunked(b"x" * 50, 4), max_bytes=10)]
