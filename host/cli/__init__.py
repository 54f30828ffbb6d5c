"""The ``tidings`` command line: run, api, worker, bounces, migrate, users, apikey, app plugins' commands.

:mod:`~.main` (the commands and the start-up checks: one line, exit code 2), :mod:`~.templates` (``tidings
templates import-mia``) and the other command modules beside them. An edge like host.api: it starts the HTTP
server, so it may import host.api.

May import: host (any room).
"""
