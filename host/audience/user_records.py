"""Streamed user records: NDJSON lines and JSON-array elements split off a byte stream, one at a time.

A bulk upload can hold a million users; these splitters keep one record in memory, not the upload.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator

__all__ = [
    "MAX_RECORD_BYTES",
    "JsonArraySplitter",
    "RecordError",
    "json_array_records",
    "ndjson_records",
]

#: a single user record larger than this is refused (it would otherwise be buffered whole)
MAX_RECORD_BYTES = 1 << 20

_STRUCTURE = re.compile(rb'[\[\]{},"]')
_IN_STRING = re.compile(rb'["\\]')
_WHITESPACE = b" \t\r\n"
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")
_QUOTE, _COMMA = ord('"'), ord(",")


class RecordError(ValueError):
    """The stream itself is malformed (not just one record): ``line`` is where reading stopped."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


async def ndjson_records(
    chunks: AsyncIterable[bytes], max_bytes: int = MAX_RECORD_BYTES
) -> AsyncIterator[tuple[int, bytes]]:
    """Each non-blank line with its 1-based line number; a line over ``max_bytes`` is a RecordError."""
    pending = bytearray()
    line = 0
    async for chunk in chunks:
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) != -1:
            line += 1
            record = bytes(pending[start:end]).strip()
            if record:
                yield line, record
            start = end + 1
        del pending[:start]
        if len(pending) > max_bytes:
            raise RecordError(line + 1, f"a line is longer than {max_bytes} bytes")
    record = bytes(pending).strip()
    if record:
        yield line + 1, record


class JsonArraySplitter:
    """Splits the elements of one top-level JSON array out of chunks of bytes, as they arrive.

    Only the array's own commas and brackets matter: strings (with their escapes) and nested values are
    tracked just enough to skip over them. Each element is returned as its raw JSON bytes.
    """

    def __init__(self, max_bytes: int = MAX_RECORD_BYTES) -> None:
        self.max_bytes = max_bytes
        self.count = 0  # elements returned so far
        self._element = bytearray()
        self._depth = 0
        self._in_string = False
        self._escaped = False  # a backslash ended the previous chunk
        self._started = False
        self._finished = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """The elements completed by this chunk."""
        elements: list[bytes] = []
        pos, size = 0, len(chunk)
        if not self._started:
            pos = self._skip_to_array(chunk)
            if pos == -1:
                return elements
        start = pos
        if self._escaped and pos < size:
            self._escaped, pos = False, pos + 1
        while pos < size and not self._finished:
            if self._in_string:
                match = _IN_STRING.search(chunk, pos)
                if match is None:
                    break
                if chunk[match.start()] == _QUOTE:
                    self._in_string, pos = False, match.end()
                elif match.end() < size:
                    pos = match.end() + 1
                else:
                    self._escaped, pos = True, size
                continue
            match = _STRUCTURE.search(chunk, pos)
            if match is None:
                break
            char, pos = chunk[match.start()], match.end()
            if char == _QUOTE:
                self._in_string = True
            elif char in _OPEN:
                self._depth += 1
            elif char in _CLOSE:
                self._depth -= 1
                if self._depth == 0:
                    self._emit(elements, chunk[start : match.start()], last=True)
                    self._finished = True
                    start = pos
            elif char == _COMMA and self._depth == 1:
                self._emit(elements, chunk[start : match.start()], last=False)
                start = pos
        if self._finished:
            if chunk[start:].strip(_WHITESPACE):
                raise RecordError(self.count, "unexpected data after the end of the JSON array")
        else:
            self._element += chunk[start:]
            if len(self._element) > self.max_bytes:
                raise RecordError(self.count + 1, f"an element is longer than {self.max_bytes} bytes")
        return elements

    def close(self) -> None:
        """Raise RecordError unless the array was complete."""
        if not self._finished:
            what = "the body is empty" if not self._started else "the JSON array is not closed"
            raise RecordError(self.count + 1, what)

    def _skip_to_array(self, chunk: bytes) -> int:
        text = chunk.lstrip(_WHITESPACE)
        if not text:
            return -1
        if text.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
            rest = self._skip_to_array(text[3:])
            return rest if rest == -1 else rest + len(chunk) - len(text) + 3
        if text[0] != ord("["):
            raise RecordError(1, "the body is not a JSON array (nor NDJSON: send application/x-ndjson)")
        self._started, self._depth = True, 1
        return len(chunk) - len(text) + 1

    def _emit(self, elements: list[bytes], tail: bytes, *, last: bool) -> None:
        self._element += tail
        element = bytes(self._element).strip(_WHITESPACE)
        self._element.clear()
        if element:
            self.count += 1
            elements.append(element)
        elif not last or self.count:  # `[]` is an empty array; `[1,,2]` and `[1,]` are not JSON
            raise RecordError(self.count + 1, "empty element in the JSON array")


async def json_array_records(
    chunks: AsyncIterable[bytes], max_bytes: int = MAX_RECORD_BYTES
) -> AsyncIterator[tuple[int, bytes]]:
    """Each element of a top-level JSON array with its 1-based position in the array."""
    splitter = JsonArraySplitter(max_bytes)
    async for chunk in chunks:
        first = splitter.count + 1
        for offset, element in enumerate(splitter.feed(chunk)):
            yield first + offset, element
    splitter.close()
