"""The root of the test tree. The service fixtures live in tests/integration/conftest.py; unit tests use none.

``BASE_CONFIG`` stays importable from here for bench/fuzz_api.py; tests import it from tests.support.configs.
"""

from __future__ import annotations

from tests.support.configs import BASE_CONFIG

__all__ = ["BASE_CONFIG"]

# a socket left to the garbage collector fails whichever test runs then: this says where it was made
pytest_plugins = ["tests.support.socket_origins"]
