"""Staff accounts of the console: argon2 password hashes, creation, and the login lock-out.

Roles: ``admin`` (staff accounts, API keys, and everything an editor does) and ``editor`` (templates,
clusters, users, dispatches, the failure log). Accounts stored before roles existed read as admins.
A disabled account cannot log in, and its open sessions end at their next request.

A failed login is counted per e-mail address (known or not, so the answer never tells which accounts
exist); after ``LOCKOUT_AFTER`` failures in a row the address is locked for ``LOCKOUT_SECONDS``.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from host.storage.documents import utcnow

__all__ = [
    "FAILURES_COLLECTION",
    "LOCKOUT_AFTER",
    "LOCKOUT_SECONDS",
    "ROLES",
    "LoginThrottle",
    "Role",
    "Staff",
    "StaffAccounts",
    "hash_password",
    "new_staff_fields",
    "verify_password",
]

LOCKOUT_AFTER = 5
LOCKOUT_SECONDS = 900
FAILURES_COLLECTION = "console_login_failures"
FIRST_STAFF_EMAIL = "admin@tidings.localhost"
STAFF_COLLECTION = "staff"

Role = Literal["admin", "editor"]
ROLES: tuple[Role, ...] = get_args(Role)
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()


class Staff(Document):
    """One person allowed into the console."""

    email: str
    password_hash: str
    role: Role = "admin"
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
    disabled_at: datetime | None = None

    class Settings:
        name = STAFF_COLLECTION
        indexes = [IndexModel([("email", ASCENDING)], unique=True)]


def hash_password(password: str) -> str:
    """An argon2id hash (salted, with argon2-cffi's default cost)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches; a malformed hash counts as a mismatch."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    """Addresses compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


def new_staff_fields(email: str, password: str, role: str = "admin") -> dict[str, Any]:
    """The stored fields of a new account; ValueError names what is wrong with the input."""
    address = normalise_email(email)
    if "@" not in address:
        raise ValueError("the e-mail address needs an @")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if role not in ROLES:
        raise ValueError(f"the role must be one of {', '.join(ROLES)}")
    return {
        "email": address,
        "password_hash": hash_password(password),
        "role": role,
        "created_at": utcnow(),
        "last_login_at": None,
        "disabled_at": None,
    }


class StaffAccounts:
    """The staff accounts of one database: the console's service for them."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._accounts = db[STAFF_COLLECTION]

    async def ensure_indexes(self) -> None:
        """One account per address (the CLI calls this; the console's lifespan binds :class:`Staff`)."""
        await self._accounts.create_index("email", unique=True)

    async def create(self, email: str, password: str, role: str = "admin") -> dict[str, Any]:
        """Store a new account; ValueError names a bad field, DuplicateKeyError means the address exists."""
        fields = new_staff_fields(email, password, role)
        await self._accounts.insert_one(fields)
        return fields

    async def ensure_first(self) -> str | None:
        """Create ``admin@tidings.localhost`` with a random password if there is no account; its password."""
        if await self._accounts.find_one({}, {"_id": 1}) is not None:
            return None
        password = secrets.token_urlsafe(15)
        await self.create(FIRST_STAFF_EMAIL, password)
        return password

    async def find(self, email: str) -> dict[str, Any] | None:
        """The account with this address (compared as :func:`normalise_email` does), or None."""
        return await self._accounts.find_one({"email": normalise_email(email)})

    async def access(self, email: str) -> dict[str, Any] | None:
        """The role and disabled mark of an account: what the console checks on every request."""
        return await self._accounts.find_one({"email": email}, {"role": 1, "disabled_at": 1})

    async def list(self) -> list[dict[str, Any]]:
        """Every account by address, without password hashes."""
        return await self._accounts.find({}, {"password_hash": 0}).sort("email", 1).to_list(None)

    async def logged_in(self, email: str) -> None:
        """Record a successful login."""
        await self._accounts.update_one({"email": email}, {"$set": {"last_login_at": utcnow()}})

    async def set_disabled(self, email: str, disabled: bool) -> bool:
        """Disable (its sessions end at their next request) or enable an account; False if there is none."""
        result = await self._accounts.update_one(
            {"email": normalise_email(email)}, {"$set": {"disabled_at": utcnow() if disabled else None}}
        )
        return result.matched_count > 0


class LoginThrottle:
    """Counts failed logins per address and locks an address after too many in a row."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        *,
        lockout_after: int = LOCKOUT_AFTER,
        lockout_seconds: float = LOCKOUT_SECONDS,
    ) -> None:
        self._failures = db[FAILURES_COLLECTION]
        self._after = lockout_after
        self._seconds = lockout_seconds

    async def locked_until(self, email: str) -> datetime | None:
        """The end of the lock on this address, if it is locked now."""
        doc = await self._failures.find_one({"_id": normalise_email(email)})
        until: datetime | None = doc.get("locked_until") if doc else None
        return until if until is not None and until > utcnow() else None

    async def failed(self, email: str) -> None:
        """Count one failure; the one that reaches the limit starts the lock."""
        key = normalise_email(email)
        doc = await self._failures.find_one_and_update(
            {"_id": key}, {"$inc": {"count": 1}}, upsert=True, return_document=True
        )
        if doc is not None and doc.get("count", 0) >= self._after:
            until = utcnow() + timedelta(seconds=self._seconds)
            await self._failures.update_one({"_id": key}, {"$set": {"locked_until": until, "count": 0}})

    async def succeeded(self, email: str) -> None:
        """Forget the failures of this address."""
        await self._failures.delete_one({"_id": normalise_email(email)})
