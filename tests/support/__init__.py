"""What unit and integration tests share: configurations, the in-process stack, waiting, small helpers.

Importing anything here starts nothing: the services are fixtures of tests/integration/conftest.py.
"""
