"""Access: API keys, idempotency keys and signed addresses (who may call, what a link may do, and which
delivery a bounce is about).

:mod:`~.api_keys`, :mod:`~.idempotency`, :mod:`~.unsubscribe_links` and :mod:`~.bounce_addresses` (the
VERP envelope senders of e-mails).

May import: host.errors, host.settings, host.storage.
"""
