"""The scope each API route needs, read from its handler: the public pages need none."""

from __future__ import annotations


def test_public_pages_need_no_api_key() -> None:
    from host.api.auth import required_scope
    from host.api.routes.unsubscribe import confirm_unsubscribe, unsubscribe

    for handler, method in ((confirm_unsubscribe, "GET"), (unsubscribe, "POST")):
        assert required_scope(handler, method, "/unsubscribe/{token:str}") is None
