"""A quiet-hours value that is no time of day stops ``tidings worker`` at start-up: one line naming the key,
exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli_runs import worker_with_config
from tests.support.configs import BASE_CONFIG


@pytest.mark.parametrize(
    ("quiet", "key"),
    [
        ({"start": "25:00", "end": "08:00"}, "quietHours.start"),
        ({"start": "21:00", "end": "8pm"}, "quietHours.end"),
    ],
)
def test_the_worker_refuses_a_time_that_is_no_time_of_day(
    tmp_path: Path, quiet: dict[str, str], key: str
) -> None:
    done = worker_with_config(tmp_path, {**BASE_CONFIG, "quietHours": quiet})
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"tidings: invalid configuration at {key}: "), line
    assert "Traceback" not in done.stderr
