"""API keys: shown once at creation, stored only as a hash beside a visible prefix, with scopes.

A key reads ``tdk_ab12cd34_<secret>``: the prefix ``tdk_ab12cd34`` tells keys apart (in the console, the
CLI and logs) and finds the stored record; the secret is 32 random bytes. The record keeps the SHA-256
of the whole key, never the key or the secret. A plain SHA-256 is enough here, unlike for passwords:
the secret has 256 bits of entropy, so inverting the hash is as hopeless as guessing the key, and a slow
hash (argon2) would only add tens of milliseconds to every API request.

Every API request checks its key, so the checks of concurrent requests are read together: one ``find``
of their prefixes per group (host.storage.group_commit), each read after its request arrived, so a key
revoked a moment ago is refused at once (no cache).

:class:`ApiKeys` works on raw PyMongo collections so the API, the console and the CLI share it whatever
event loop and client they run on; :class:`~host.storage.documents.ApiKey` describes the stored
shape and its indexes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, get_args

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from host.errors import NotFound, RequestError
from host.storage.documents import API_KEYS_COLLECTION, ApiKey, ApiKeyRecord, Scope, utcnow
from host.storage.group_commit import GroupCommit
from host.storage.queries import find_at_once

__all__ = [
    "API_KEYS_COLLECTION",
    "SCOPES",
    "ApiKey",
    "ApiKeyRecord",
    "ApiKeys",
    "NewApiKey",
    "Scope",
    "hash_key",
    "parse_scopes",
]

#: ``send``: /send and /saga/send; ``read``: status and lists; ``manage``: templates, clusters, users
SCOPES: tuple[Scope, ...] = get_args(Scope)
KEY_MARK = "tdk_"
_KEY_RE = re.compile(r"^(?P<prefix>tdk_[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{43})$")
#: ``last_used_at`` is written at most this often per key, so a busy key costs no write per request
LAST_USED_PRECISION = timedelta(minutes=1)
#: the validated records kept (one per key in use; beyond it they are all dropped and rebuilt as used)
_RECORDS_KEPT = 1000

Doc = dict[str, Any]


@dataclass(frozen=True)
class NewApiKey:
    """A key just created: ``key`` is the only copy in clear, to show once and forget."""

    record: ApiKeyRecord
    key: str


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256, hex (see the module docstring for why not a slow hash)."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Known scopes, once each, in the order of :data:`SCOPES`; raises RequestError naming an unknown one."""
    wanted = {value.strip().lower() for value in values if value.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise RequestError(f"scopes: unknown scope {unknown[0]!r} (known: {', '.join(SCOPES)})")
    if not wanted:
        raise RequestError(f"scopes: give at least one of {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in wanted]


class ApiKeys:
    """The API keys stored in one database."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._keys = db[API_KEYS_COLLECTION]
        #: the key checks of concurrent requests, one read per group (bound to the first loop using it)
        self._lookup = GroupCommit[str, Doc | None](self._find_prefixes, max_size=500)
        #: by prefix, the stored document last verified and its record: a key read again unchanged is
        #: not validated again (pydantic, ~5 µs a request); the document itself is read every time
        self._records: dict[str, tuple[Doc, ApiKeyRecord]] = {}

    async def _find_prefixes(self, prefixes: list[str]) -> list[Doc | BaseException | None]:
        # one indexed field (NOTES); a prefix asked twice in the group is read once
        wanted = list(dict.fromkeys(prefixes))
        found = {doc["prefix"]: doc for doc in await find_at_once(self._keys, {"prefix": {"$in": wanted}})}
        # a copy each: verify() sets last_used_at on the one it returns
        return [dict(found[prefix]) if prefix in found else None for prefix in prefixes]

    async def ensure_indexes(self) -> None:
        """The unique prefix index (the API's start-up creates it through Beanie; the CLI calls this)."""
        await self._keys.create_index("prefix", unique=True)

    async def create(self, name: str, scopes: Iterable[str], *, created_by: str) -> NewApiKey:
        """Make a key with these scopes and store its hash; the returned key is never stored."""
        name = name.strip()
        if not name:
            raise RequestError("name: the key needs a name")
        chosen = parse_scopes(scopes)
        for _ in range(5):  # 32-bit prefixes: a collision is rare, and the unique index catches it
            prefix = KEY_MARK + secrets.token_hex(4)
            key = f"{prefix}_{secrets.token_urlsafe(32)}"
            record = ApiKeyRecord(
                name=name, prefix=prefix, key_hash=hash_key(key), scopes=chosen, created_by=created_by
            )
            try:
                await self._keys.insert_one(record.model_dump())
            except DuplicateKeyError:
                continue
            return NewApiKey(record=record, key=key)
        raise RuntimeError("could not find a free key prefix")

    async def list(self) -> list[ApiKeyRecord]:
        """Every key, newest first (revoked ones included)."""
        docs = await self._keys.find({}).sort("created_at", -1).to_list(None)
        return [ApiKeyRecord.model_validate(doc) for doc in docs]

    async def revoke(self, prefix: str) -> ApiKeyRecord:
        """Stop accepting the key with this prefix (revoking twice keeps the first time); 404 if none."""
        await self._keys.update_one(
            {"prefix": prefix, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
        )
        doc = await self._keys.find_one({"prefix": prefix})
        if doc is None:
            raise NotFound(f"no API key {prefix!r}")
        return ApiKeyRecord.model_validate(doc)

    async def verify(self, key: str) -> ApiKeyRecord | None:
        """The active key record matching ``key``, or None (unknown, wrong secret, revoked: all alike)."""
        match = _KEY_RE.match(key)
        if match is None:
            return None
        prefix = match.group("prefix")
        doc = await self._lookup(prefix)
        if doc is None or doc.get("revoked_at") is not None:
            return None
        if not hmac.compare_digest(hash_key(key), str(doc.get("key_hash", ""))):
            return None
        now = utcnow()
        last = doc.get("last_used_at")
        if last is None or now - last >= LAST_USED_PRECISION:
            await self._keys.update_one({"_id": doc["_id"]}, {"$set": {"last_used_at": now}})
            doc["last_used_at"] = now
        return self._record(prefix, doc)

    def _record(self, prefix: str, doc: Doc) -> ApiKeyRecord:
        """The record of a verified key's document: the one built last time while the document is equal."""
        known = self._records.get(prefix)
        if known is not None and known[0] == doc:
            return known[1]
        record = ApiKeyRecord.model_validate(doc)
        if len(self._records) >= _RECORDS_KEPT:
            self._records.clear()
        self._records[prefix] = (doc, record)
        return record
