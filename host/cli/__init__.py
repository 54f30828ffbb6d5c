"""The ``tidings`` command line: run, api, worker, migrate, users, apikey, and app plugins' commands.

An edge like host.api: it starts the HTTP server, so it may import host.api.

May import: host (any room).
"""
