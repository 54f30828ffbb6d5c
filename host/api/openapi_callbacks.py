"""What the OpenAPI document says about the provider callbacks: open, signed, some with a size limit.

Twilio's status callbacks and the e-mail providers' bounce webhooks need no API key; a provider's signature
authenticates them (403 when it is wrong), a provider not configured answers 404, and the bounce webhooks
take bodies of up to 1 MB (413). host.api.openapi adds these errors to their operations.
"""

from __future__ import annotations

__all__ = ["NOT_CONFIGURED", "SIGNED", "TOO_LARGE"]

_PROVIDERS = ("ses", "sendgrid", "mailgun")

#: open operations a provider's signature authenticates: (what a 403 means, an example message)
SIGNED: dict[str, tuple[str, str]] = {
    "/twilio/status": ("X-Twilio-Signature is missing or wrong.", "X-Twilio-Signature: missing or invalid"),
    "/feedback/ses": (
        "The SNS signature is wrong, its certificate is not on a trusted host, or the topic is not accepted.",
        "Signature: does not match the message (not signed by SNS)",
    ),
    "/feedback/sendgrid": (
        "The ECDSA signature is missing or wrong, or its timestamp is outside the replay window.",
        "X-Twilio-Email-Event-Webhook-Signature: does not match the body (not signed by SendGrid)",
    ),
    "/feedback/mailgun": (
        "The HMAC signature is missing or wrong, too old, or its token was used for another event.",
        "signature.token: already used for another event (a replay)",
    ),
}
#: operations whose body is limited (413)
TOO_LARGE: dict[tuple[str, str], str] = {
    ("post", f"/feedback/{name}"): "The body is larger than 1 MB." for name in _PROVIDERS
}
#: operations answering 404 when their provider is not configured
NOT_CONFIGURED: dict[tuple[str, str], str] = {
    ("post", "/feedback/ses"): "Amazon SES feedback is not configured (bounces.ses)",
    ("post", "/feedback/sendgrid"): "SendGrid feedback is not configured (SENDGRID_WEBHOOK_PUBLIC_KEY)",
    ("post", "/feedback/mailgun"): "Mailgun feedback is not configured (MAILGUN_WEBHOOK_SIGNING_KEY)",
}
