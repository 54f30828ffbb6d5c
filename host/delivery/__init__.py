"""Delivery: the worker that claims, renders and sends, the one lifecycle, and everything around a send.

:mod:`~.lifecycle` (statuses and allowed moves; it imports only host.errors, so every room may import
it), :mod:`~.worker`, :mod:`~.outcomes` (results written back), :mod:`~.backoff`, :mod:`~.failover`
(providers in order, circuit breakers), :mod:`~.rate_limits`, :mod:`~.attachments`,
:mod:`~.opt_out_checks` (send time), :mod:`~.quiet_hours` (send time), :mod:`~.metrics`, and the Overview's
:mod:`~.minute_counts` (written with the results) and :mod:`~.stats` (what ``GET /stats`` answers).

May import: host.errors, host.settings, host.storage, host.plugins, host.access, host.templates,
host.audience, host.dispatch.
"""
