"""The configurations the test stacks run with, and what the test run itself provides (the test plugin)."""

from __future__ import annotations

from typing import Any

from host.plugins.registry import discover_channel_types

__all__ = ["BASE_CONFIG", "STACK_CONFIG", "TEST_SECRET_KEY", "TWILIO_SENDER", "WEBHOOK_INSTALLED"]

BASE_CONFIG: dict[str, Any] = {
    "activeChannels": ["email"],
    "sender": {"email": "noreply@tidings.test"},
    "userFields": {"id": "fiscalCode", "emailAddress": "mail", "clusters": "groups"},
    "delivery": {"maxAttempts": 3, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.2},
    # these tests write their messages and templates in Jinja; the Handlebars default (templateSyntax's,
    # as in Mia) has its own stack in tests/integration/host/templates/test_handlebars_default.py
    "templateSyntax": "jinja",
}

TWILIO_SENDER = "+15005550006"
#: TIDINGS_SECRET_KEY of the test stacks
TEST_SECRET_KEY = "test-secret-key-for-unsubscribe-links"
#: the third-party channel of tests/plugins/tidings-webhook, active when installed (scripts/test does)
WEBHOOK_INSTALLED = "webhook" in discover_channel_types()
#: the stack's configuration: every channel active (their variables come from channel_env); users keep
#: phone numbers and push subscriptions in the default fields, ``phoneNumber`` and ``deviceToken``
STACK_CONFIG: dict[str, Any] = {
    **BASE_CONFIG,
    "activeChannels": ["email", "sms", "voice", "push", *(["webhook"] if WEBHOOK_INSTALLED else [])],
    "sender": {"email": "noreply@tidings.test", "sms": TWILIO_SENDER, "voice": TWILIO_SENDER},
    "androidIntentAction": "eu.tidings.test.OPEN",
}
