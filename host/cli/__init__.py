"""The ``tidings`` command line: run, api, worker, bounces, migrate, users, apikey, app plugins' commands.

An edge like host.api: it starts the HTTP server, so it may import host.api.

May import: host (any room).
"""
