"""The reference renderer: handlebars.js + handlebars-helpers under Node, one process for many templates.

The npm packages are pinned by ``tests/reference/handlebars/package-lock.json``; ``scripts/test`` installs
them (``npm ci``). Node runs with ``TZ=UTC`` (as Mia's container does) and a fixed clock.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["REFERENCE", "ReferenceResult", "render_reference"]

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "handlebars"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class ReferenceResult:
    """What handlebars.js made of one case: its output, or the message of the error it threw."""

    ok: bool
    output: str = ""
    error: str = ""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the Handlebars differential test needs Node.js (node) on the PATH")
    if not (REFERENCE / "node_modules" / "handlebars-helpers").is_dir():
        raise RuntimeError(
            f"the reference npm packages are not installed: run `npm ci --prefix {REFERENCE}` "
            "(scripts/test does it)"
        )
    return node


def render_reference(cases: Sequence[Mapping[str, Any]], now: str) -> dict[str, ReferenceResult]:
    """Render ``cases`` (``id``, ``template``, ``context``, ``html``, ``locale``) with handlebars.js."""
    payload = json.dumps({"now": now, "cases": list(cases)}, ensure_ascii=False)
    environment = {"PATH": os.environ.get("PATH", ""), "TZ": "UTC", "LANG": "C.UTF-8"}
    finished = subprocess.run(
        [_node(), str(REFERENCE / "render.js")],
        input=payload,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment,
        timeout=120,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"the reference renderer failed: {finished.stderr[-2000:]}")
    # half of an emoji (a slice cut it) is what Node's UTF-8 encoding sends as U+FFFD
    return {
        item["id"]: ReferenceResult(
            item["ok"], _LONE_SURROGATE.sub("\ufffd", item.get("output", "")), item.get("error", "")
        )
        for item in json.loads(finished.stdout)
    }
