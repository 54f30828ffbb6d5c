"""The root of the test tree. The service fixtures live in tests/integration/conftest.py; unit tests use none.

``BASE_CONFIG`` stays importable from here for bench/fuzz_api.py; tests import it from tests.support.configs.
"""

from __future__ import annotations

from tests.support.configs import BASE_CONFIG

__all__ = ["BASE_CONFIG"]
