"""Where the checkout is, for tests that read the source tree or start the CLI in it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT"]

#: the project root (this file is tests/support/paths.py)
ROOT = Path(__file__).resolve().parents[2]
