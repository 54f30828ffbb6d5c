"""Staff accounts of the console: argon2 password hashes, creation, and the login lock-out.

Roles: ``admin`` (staff accounts, API keys, and everything an editor does) and ``editor`` (templates,
clusters, users, dispatches, the failure log). Accounts stored before roles existed read as admins.
A disabled account cannot log in, and its open sessions end at their next request. Failed logins are
throttled by :mod:`admin_ui.login_throttle`.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from host.storage.documents import utcnow

__all__ = [
    "ROLES",
    "Role",
    "Staff",
    "StaffAccounts",
    "hash_password",
    "new_staff_fields",
    "verify_password",
]

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
