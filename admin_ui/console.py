"""The console's own storage: staff, login throttling, sessions and HTML previews, on the app's database.

Built by the console plugin's lifespan once the Runtime is up, and handed to pages as the ``console``
dependency (``console: NamedDependency[Console]``).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from admin_ui.frames import PreviewFrames
from admin_ui.login_throttle import LoginThrottle
from admin_ui.login_tokens import LoginTokens
from admin_ui.sessions import SESSIONS_COLLECTION
from admin_ui.staff import StaffAccounts

__all__ = ["Console"]


class Console:
    """The console's own storage, bound to the running application's database (the ``console`` dependency)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], secret_key: str | None = None) -> None:
        self.accounts = StaffAccounts(db)
        #: the login form's signed tokens (TIDINGS_SECRET_KEY, or a per-process secret without it)
        self.login_tokens = LoginTokens(secret_key)
        self.throttle = LoginThrottle(db)
        self.sessions_collection = db[SESSIONS_COLLECTION]
        self.previews = PreviewFrames(db)
