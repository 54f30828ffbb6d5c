"""Bulk upsert of users: records checked one by one, written in batches of ``ReplaceOne(upsert=True)``.

Shared by ``POST /users/bulk`` and ``tidings users import``. A record without the mapped id field is
reported with its line and skipped; only one batch of users is held in memory at a time.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterable, Iterator, Mapping
from typing import IO, Any

import msgspec
from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from host.audience.users import read_field, write_field
from host.settings import UserFields
from host.storage.nesting import nesting_problem

__all__ = [
    "BulkResult",
    "InvalidUser",
    "LineError",
    "UserUpserter",
    "csv_records",
    "prepare_user",
]

Doc = dict[str, Any]


class InvalidUser(ValueError):
    """One user record is unusable; the message names the field."""


class LineError(msgspec.Struct, frozen=True):
    """A record that was not written: its line (NDJSON, CSV) or position (JSON array), and why."""

    line: int
    message: str


class BulkResult(msgspec.Struct, rename="camel", kw_only=True):
    """What a bulk upsert did; ``errors`` lists the first rejected records, ``failed`` counts all."""

    upserted: int = 0
    modified: int = 0
    matched: int = 0
    failed: int = 0
    errors: list[LineError] = []


def prepare_user(fields: UserFields, record: Any) -> tuple[str, Doc]:
    """The user's id and the document to store; InvalidUser if it lacks an id or has bad clusters."""
    if not isinstance(record, dict):
        raise InvalidUser("a user must be a JSON object")
    user_id = read_field(record, fields.id)
    if user_id is None or user_id == "":
        raise InvalidUser(f"{fields.id}: missing (the user id field)")
    if not isinstance(user_id, str):
        raise InvalidUser(f"{fields.id}: must be a string, not {type(user_id).__name__}")
    clusters = read_field(record, fields.clusters)
    if clusters is not None and (
        not isinstance(clusters, list) or not all(isinstance(c, str) for c in clusters)
    ):
        raise InvalidUser(f"{fields.clusters}: must be a list of cluster names")
    problem = nesting_problem(record, field_names=True)  # what MongoDB would refuse, named
    if problem is not None:
        raise InvalidUser(problem)
    if fields.id != "_id":
        record.pop("_id", None)  # the database's own key: a replacement keeps the stored one
    return user_id, record


class UserUpserter:
    """Collects records and writes them in unordered batches; :meth:`finish` returns the result."""

    def __init__(
        self,
        users: AsyncCollection[Doc],
        fields: UserFields,
        *,
        batch_size: int = 1000,
        max_errors: int = 1000,
    ) -> None:
        self._users = users
        self._fields = fields
        self._batch_size = batch_size
        self._max_errors = max_errors
        self._operations: list[ReplaceOne[Doc]] = []
        self._lines: list[int] = []
        self.result = BulkResult(errors=[])

    def reject(self, line: int, message: str) -> None:
        """Count a record that will not be written (the first ``max_errors`` are kept with their line)."""
        self.result.failed += 1
        if len(self.result.errors) < self._max_errors:
            self.result.errors.append(LineError(line=line, message=message))

    async def add(self, line: int, record: bytes | Mapping[str, Any]) -> None:
        """Check one record (raw JSON or already decoded) and queue it; writes when a batch is full."""
        try:
            decoded = msgspec.json.decode(record) if isinstance(record, bytes) else dict(record)
            user_id, document = prepare_user(self._fields, decoded)
        except msgspec.DecodeError as exc:
            self.reject(line, f"invalid JSON: {exc}")
            return
        except RecursionError:  # msgspec gives up on JSON nested about a thousand deep
            self.reject(line, "invalid JSON: nested too deeply")
            return
        except InvalidUser as exc:
            self.reject(line, str(exc))
            return
        self._operations.append(ReplaceOne({self._fields.id: user_id}, document, upsert=True))
        self._lines.append(line)
        if len(self._operations) >= self._batch_size:
            await self.flush()

    async def add_all(self, records: AsyncIterable[tuple[int, bytes]]) -> BulkResult:
        """Add every record of a stream, then :meth:`finish`."""
        async for line, record in records:
            await self.add(line, record)
        return await self.finish()

    async def flush(self) -> None:
        """Write the queued batch (unordered: one bad document does not stop the others)."""
        if not self._operations:
            return
        operations, lines = self._operations, self._lines
        self._operations, self._lines = [], []
        try:
            written = await self._users.bulk_write(operations, ordered=False)
        except BulkWriteError as exc:
            details = exc.details
            self.result.upserted += int(details.get("nUpserted", 0))
            self.result.modified += int(details.get("nModified", 0))
            self.result.matched += int(details.get("nMatched", 0))
            for error in details.get("writeErrors", []):
                self.reject(lines[error["index"]], str(error.get("errmsg", "write error")))
            return
        self.result.upserted += written.upserted_count
        self.result.modified += written.modified_count
        self.result.matched += written.matched_count

    async def finish(self) -> BulkResult:
        """Write what is left and return the totals."""
        await self.flush()
        return self.result


def csv_records(text: IO[str], fields: UserFields) -> Iterator[tuple[int, Doc]]:
    """Users from a CSV file with a header row: empty cells are left out, the clusters column is split
    on ``;``, dotted column names (``contacts.mail``) become nested fields."""
    reader = csv.DictReader(text)
    for row in reader:
        user: Doc = {}
        for column, value in row.items():
            if column is None or value is None or value == "":
                continue  # extra cells without a header, or empty cells
            if column == fields.clusters:
                write_field(user, column, [name.strip() for name in value.split(";") if name.strip()])
            else:
                write_field(user, column, value)
        yield reader.line_num, user
