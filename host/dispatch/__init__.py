"""Dispatch: accepting a send, storing it first, expanding its audience, and reading dispatches back.

:mod:`~.schemas` (the request and answer Structs of /send), :mod:`~.saga` (a Flow Manager command read into
the /send it stands for) and :mod:`~.scripts` (Mia's saga scripts in sandboxed QuickJS), :mod:`~.accept` (and
the priority lane a dispatch takes), :mod:`~.expansion` (the fan-out, resumable), :mod:`~.writes` (grouped
writes), :mod:`~.outbox` (durable hand-over to the broker), :mod:`~.deferrals` (deliveries held until a time:
quiet hours), :mod:`~.scheduling` (``sendAt``, and releasing deferrals), :mod:`~.recovery` (the sweep),
:mod:`~.views` and :mod:`~.service` (the dispatch service the API and the console call).

May import: host.errors, host.settings, host.storage, host.plugins, host.templates, host.audience,
host.delivery.lifecycle.
"""
