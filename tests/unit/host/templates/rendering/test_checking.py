"""The checking process ends with the process that started it, even one killed without a chance to stop it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from host.templates.rendering.checking import PARENT_POLL_SECONDS
from tests.support.waiting import eventually_sync

#: a process that starts the checking process, learns its pid (the verdict is os.getpid), and dies at once
#: the way ``kill -9`` ends it: no close(), no atexit, no executor shutdown
ORPHANING = """
import asyncio, os
from host.templates.rendering.checking import CheckPool

async def main():
    pool = CheckPool(os.getpid)
    print(await pool.verdict(), flush=True)
    os._exit(0)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; it only waits to be reaped


def test_the_checking_process_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with out.open("w") as file:  # a file, not a pipe: an orphan holding the pipe would block the read
        subprocess.run([sys.executable, "-c", ORPHANING], stdout=file, timeout=60, check=True)
    checker = int(out.read_text().strip())
    eventually_sync(
        lambda: not _alive(checker),
        timeout=10 * PARENT_POLL_SECONDS + 5,
        interval=0.1,
        what=f"the checking process {checker} to exit after the process that started it",
    )
