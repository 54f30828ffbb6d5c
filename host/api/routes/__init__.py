"""The API's routes: thin handlers that decode, call a service of the Runtime, and encode.

Each module lists its handlers in ``ROUTES``; the application plugin (host.api.app) registers them.
"""
