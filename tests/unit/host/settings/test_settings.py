"""Settings as start-up reads them: the environment, then the configuration file it points to."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.errors import ConfigurationError
from host.settings import load_settings


def test_missing_configuration_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CONFIGURATION_PATH"):
        load_settings({})
    with pytest.raises(ConfigurationError, match="CONFIGURATION_PATH"):
        load_settings({"CONFIGURATION_PATH": str(tmp_path / "absent.json")})
