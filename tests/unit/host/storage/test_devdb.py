"""The development database's jars: without Maven, the error names what to install, and nothing is cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.storage.devdb import DevDatabaseError, ensure_jars


def test_missing_maven_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIDINGS_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DevDatabaseError, match=r"apt-get install maven"):
        ensure_jars()
    assert list(tmp_path.iterdir()) == []
