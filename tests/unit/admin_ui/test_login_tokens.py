"""Login form tokens: signed with the server's secret, bound to the cookie's nonce, fresh for two hours."""

from __future__ import annotations

from admin_ui.login_tokens import MAX_AGE_SECONDS, LoginTokens

KEY = "a-secret-key-of-enough-length"
NOW = 1_900_000_000.0


def test_a_token_passes_only_with_its_cookie_and_while_fresh() -> None:
    tokens = LoginTokens(KEY)
    field, cookie = tokens.issue(now=NOW)
    assert tokens.check(field, cookie, now=NOW + 1)
    assert not tokens.check(field, cookie + "x", now=NOW)
    assert not tokens.check(field, cookie, now=NOW + MAX_AGE_SECONDS + 1)
    assert not tokens.check(field, cookie, now=NOW - 3600)  # issued in the future
    issued, nonce, mac = field.split(".")
    assert not tokens.check(f"{int(issued) + 1}.{nonce}.{mac}", cookie, now=NOW)  # the time is signed
    assert not tokens.check(f"{issued}.{nonce}.{'0' * len(mac)}", cookie, now=NOW)
    assert not tokens.check(cookie, cookie, now=NOW)  # the old double-submit pair
    assert not tokens.check("", "", now=NOW)


def test_the_secret_comes_from_the_key_or_is_made_per_process() -> None:
    field, cookie = LoginTokens(KEY).issue(now=NOW)
    assert LoginTokens(KEY).check(field, cookie, now=NOW)  # another process with the same key
    assert not LoginTokens(KEY + "!").check(field, cookie, now=NOW)
    random_field, random_cookie = LoginTokens(None).issue(now=NOW)
    assert not LoginTokens(None).check(random_field, random_cookie, now=NOW)
