"""The body hash an idempotency key is stored with: the same JSON however it is spaced or ordered."""

from __future__ import annotations

from host.access.idempotency import body_hash


def test_the_body_hash_ignores_key_order_and_spacing() -> None:
    assert body_hash(b'{"a": 1, "b": [1, 2]}') == body_hash(b'{"b":[1,2],"a":1}')
    assert body_hash(b'{"a": 1}') != body_hash(b'{"a": 2}')
    assert body_hash(b"not json") == body_hash(b"not json")
