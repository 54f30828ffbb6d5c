"""Access: API keys, idempotency keys and signed links (who may call, and what a link may do).

May import: host.errors, host.settings, host.storage.
"""
