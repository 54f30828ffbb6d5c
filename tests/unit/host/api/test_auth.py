"""The scope each API route needs, read from its handler: the public pages need none."""

from __future__ import annotations


def test_public_pages_need_no_api_key() -> None:
    from host.api.auth import required_scope
    from host.api.routes.unsubscribe import confirm_unsubscribe, unsubscribe

    for handler, method in ((confirm_unsubscribe, "GET"), (unsubscribe, "POST")):
        assert required_scope(handler, method, "/unsubscribe/{token:str}") is None


def test_provider_webhooks_need_no_api_key_and_suppressions_need_manage() -> None:
    from host.api.auth import required_scope
    from host.api.routes.deliverability import providers, suppressions

    for handler in providers.ROUTES:  # a provider's signature authenticates them
        for path in handler.paths:
            assert required_scope(handler, "POST", path) is None
    for handler in suppressions.ROUTES:
        for method in handler.http_methods:
            assert required_scope(handler, method, next(iter(handler.paths))) == "manage"
