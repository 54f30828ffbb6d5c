"""Runtime: the wiring of one event loop and the processes that run it.

:mod:`~.wiring` (the Runtime: store, channels, services, loops), :mod:`~.actors` (one dramatiq actor per
channel and priority lane, and the fan-out), :mod:`~.lanes` (how a worker serves the lanes),
:mod:`~.broker`, :mod:`~.background` (the loops' skeleton), :mod:`~.worker_app` (what ``tidings worker``
processes import), :mod:`~.embedded` (``tidings run``), :mod:`~.bounce_service` (``tidings bounces``) and
:mod:`~.logs`. Nothing here imports Litestar: a worker process never loads the HTTP layer.

May import: host.errors, host.settings, host.storage, host.plugins, host.access, host.templates,
host.audience, host.dispatch, host.delivery, host.events, host.feedback, host.inbox.
"""
