"""The migrations runner finds the migrations folder of the source checkout."""

from __future__ import annotations

from host.storage.migrations import migration_names, migrations_dir
from tests.support.paths import ROOT


def test_the_migrations_folder_is_found_in_the_source_checkout() -> None:
    assert migrations_dir() == ROOT / "migrations"
    assert "20250101000000_template_syntax.py" in migration_names()
