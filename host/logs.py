"""Logging: one line per event, with the logger name; secrets never reach a log call."""

from __future__ import annotations

import logging
import os

__all__ = ["configure_logging"]


def configure_logging(level: str | None = None) -> None:
    """Configure the root logger once (``TIDINGS_LOG_LEVEL``, default INFO)."""
    logging.basicConfig(
        level=(level or os.environ.get("TIDINGS_LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pymongo's own debug/info chatter would drown the service's lines
    logging.getLogger("pymongo").setLevel(logging.WARNING)
