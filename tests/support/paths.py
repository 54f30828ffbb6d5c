"""Where the checkout is, for tests that read the source tree or start the CLI in it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FEEDBACK_SAMPLES", "ROOT"]

#: the project root (this file is tests/support/paths.py)
ROOT = Path(__file__).resolve().parents[2]
#: real bounces and the RFCs' examples of DSNs and ARF reports (tests/reference/feedback/README.md)
FEEDBACK_SAMPLES = ROOT / "tests" / "reference" / "feedback"
