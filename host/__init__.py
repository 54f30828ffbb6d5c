"""Tidings: one API call, every channel. The plugin host lives in this package."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
