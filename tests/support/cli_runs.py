"""Running the ``tidings`` command in a child process, as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["worker_with_config"]


def worker_with_config(folder: Path, config: dict[str, Any], **env: str) -> subprocess.CompletedProcess[str]:
    """``tidings worker`` with this configuration file and unreachable services, run to its exit.

    For start-up checks: a valid configuration would go on to wait for the database; these tests give
    one that must be refused first.
    """
    path = folder / "configuration.json"
    path.write_text(json.dumps(config))
    environ = {
        **os.environ,
        "CONFIGURATION_PATH": str(path),
        "MONGODB_URL": "mongodb://127.0.0.1:1",
        "REDIS_URL": "redis://127.0.0.1:1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "host.cli.main", "worker"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
