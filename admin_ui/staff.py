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
    "create_staff",
    "ensure_first_staff",
    "hash_password",
    "new_staff_fields",
    "verify_password",
]

LOCKOUT_AFTER = 5
LOCKOUT_SECONDS = 900
FAILURES_COLLECTION = "console_login_failures"
FIRST_STAFF_EMAIL = "admin@localhost"

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
        name = "staff"
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


async def create_staff(email: str, password: str, role: str = "admin") -> Staff:
    """Store a new staff account (Beanie must be initialised with :class:`Staff`)."""
    staff = Staff(**new_staff_fields(email, password, role))
    await staff.insert()
    return staff


async def ensure_first_staff() -> str | None:
    """Create ``admin@localhost`` with a random password when no staff account exists; return the password."""
    if await Staff.find_all().limit(1).count():
        return None
    password = secrets.token_urlsafe(15)
    await create_staff(FIRST_STAFF_EMAIL, password)
    return password


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
