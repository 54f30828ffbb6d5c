"""Amazon SES bounce and complaint notifications, delivered by SNS to ``POST /feedback/ses``.

The SNS message is checked first (host.feedback.sns; a bad signature or an untrusted certificate URL is a
403, a topic not in ``bounces.ses.topicArns`` too). A ``SubscriptionConfirmation`` is then confirmed. A
``Notification`` carries the SES notification as JSON in ``Message``: ``notificationType`` (or, for
configuration-set event publishing, ``eventType``) ``Bounce`` or ``Complaint``; other types (``Delivery``,
``Send`` ...) are ignored. A bounce is hard when its ``bounceType`` is ``Permanent`` and soft when it is
``Transient`` or ``Undetermined`` (SES gave up after temporary failures); each bounced or complained
recipient is one report, with the id ``ses:<feedbackId>:<address>``, so SNS delivering it again records
nothing twice. The delivery is found through ``mail.source`` (the VERP envelope sender SES was given),
else through the original ``Message-ID`` among ``mail.headers``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from host.access.bounce_addresses import BounceAddresses
from host.errors import RequestError
from host.feedback.esp import Summary, decode_json, forbidden, record_all, text_of, verp_delivery
from host.feedback.recorder import FeedbackRecorder
from host.feedback.reports import Report
from host.feedback.sns import SnsVerifier
from host.settings import SesConfig

__all__ = ["SesNotifications"]

log = logging.getLogger(__name__)

_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
_SOFT = frozenset({"Transient", "Undetermined"})


def _message_id(mail: Mapping[str, Any]) -> str | None:
    for header in mail.get("headers") or []:
        if isinstance(header, Mapping) and str(header.get("name", "")).lower() == "message-id":
            return text_of(header, "value")
    common = mail.get("commonHeaders")
    return text_of(common, "messageId") if isinstance(common, Mapping) else None


class SesNotifications:
    """Verifies SNS messages and records the SES bounces and complaints they carry."""

    def __init__(
        self,
        config: SesConfig,
        recorder: FeedbackRecorder,
        addresses: BounceAddresses | None,
        verifier: SnsVerifier | None = None,
    ) -> None:
        self._topics = frozenset(config.topic_arns)
        self._recorder = recorder
        self._addresses = addresses
        self.verifier = verifier or SnsVerifier(config)

    async def handle(self, body: bytes) -> Summary:
        """Check and record one SNS message (see the module's description)."""
        message = decode_json(body)
        if not isinstance(message, dict):
            raise RequestError("body: must be an SNS message (a JSON object)")
        kind = message.get("Type")
        if kind not in _TYPES:
            raise RequestError(f"Type: must be one of {', '.join(_TYPES)}, not {kind!r}")
        await self.verifier.verify(message)
        if self._topics and message.get("TopicArn") not in self._topics:
            raise forbidden(f"TopicArn: {message.get('TopicArn')!r} is not in bounces.ses.topicArns")
        if kind == "SubscriptionConfirmation":
            await self.verifier.confirm(message)
            return Summary(confirmed=True)
        if kind == "UnsubscribeConfirmation":
            log.warning("SNS unsubscribed %s from %s", message.get("TopicArn"), "POST /feedback/ses")
            return Summary()
        notification = decode_json(message["Message"], "Message")
        if not isinstance(notification, dict):
            raise RequestError("Message: must be an SES notification (a JSON object)")
        return await record_all(self._recorder, *self._reports(notification))

    def _reports(self, notification: Mapping[str, Any]) -> tuple[list[Report], int]:
        kind = notification.get("notificationType") or notification.get("eventType")
        mail = notification.get("mail")
        if kind not in ("Bounce", "Complaint"):
            return [], 1
        if not isinstance(mail, Mapping):
            raise RequestError("Message.mail: required (an object)")
        delivery_id = verp_delivery(self._addresses, mail.get("source"))
        message_id = None if delivery_id else _message_id(mail)
        if kind == "Bounce":
            bounce = notification.get("bounce")
            if not isinstance(bounce, Mapping) or not isinstance(bounce.get("bouncedRecipients"), list):
                raise RequestError("Message.bounce.bouncedRecipients: required (a list)")
            severity: Literal["hard", "soft"] = "soft" if bounce.get("bounceType") in _SOFT else "hard"
            return [
                Report(
                    id=f"ses:{bounce.get('feedbackId')}:{recipient.get('emailAddress')}",
                    source="ses",
                    kind="bounce",
                    severity=severity,
                    status=text_of(recipient, "status"),
                    diagnostic=text_of(recipient, "diagnosticCode") or text_of(bounce, "bounceSubType"),
                    recipients=(str(recipient.get("emailAddress")),),
                    delivery_id=delivery_id,
                    message_id=message_id,
                )
                for recipient in bounce["bouncedRecipients"]
                if isinstance(recipient, Mapping) and recipient.get("emailAddress")
            ], 0
        complaint = notification.get("complaint")
        if not isinstance(complaint, Mapping) or not isinstance(complaint.get("complainedRecipients"), list):
            raise RequestError("Message.complaint.complainedRecipients: required (a list)")
        return [
            Report(
                id=f"ses:{complaint.get('feedbackId')}:{recipient.get('emailAddress')}",
                source="ses",
                kind="complaint",
                feedback_type=text_of(complaint, "complaintFeedbackType") or "abuse",
                recipients=(str(recipient.get("emailAddress")),),
                delivery_id=delivery_id,
                message_id=message_id,
            )
            for recipient in complaint["complainedRecipients"]
            if isinstance(recipient, Mapping) and recipient.get("emailAddress")
        ], 0
