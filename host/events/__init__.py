"""Events: what happened to deliveries and dispatches, written down and posted to webhooks and sagas.

:mod:`~.log` (the event log, outbox-style), :mod:`~.webhooks` (the signed, retried poster) and
:mod:`~.flow_manager` (the saga's success and fail events).

May import: host.errors, host.settings, host.storage, host.plugins, host.dispatch, host.delivery.
"""
