"""What the e-mail providers' webhooks share: the answer, JSON bodies, and recording a batch of reports.

Each provider (host.feedback.ses, .sendgrid, .mailgun) checks its signature (a bad or missing one is a
403), turns its events into :class:`~host.feedback.recorder.Report` s and records them; the answer counts
what happened (:class:`Summary`). An event that matches no delivery is answered 200 all the same (a
provider would otherwise retry it for days) and counted as ``unmatched``. Bodies are limited to
:data:`MAX_BODY` bytes (413), in the API's error shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from host.access.bounce_addresses import BounceAddresses, InvalidBounceAddress
from host.errors import RequestError
from host.feedback.recorder import FeedbackRecorder
from host.feedback.reports import Report

__all__ = ["MAX_BODY", "Summary", "decode_json", "forbidden", "record_all", "verp_delivery"]

#: the largest webhook body taken (larger ones are refused with 413 before they are read)
MAX_BODY = 1_048_576


class Summary(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """What a webhook call did: reports recorded, waiting for their delivery, seen before, unmatched."""

    recorded: int = 0
    #: found but not sent yet, or not found yet by their Message-ID: applied when they can be
    waiting: int = 0
    duplicates: int = 0
    unmatched: int = 0
    #: events that are not bounces or complaints (deliveries, opens, temporary failures still retried)
    ignored: int = 0
    #: SNS: the subscription was confirmed
    confirmed: bool = False


def forbidden(message: str) -> RequestError:
    """A 403 naming what is wrong with the signature."""
    return RequestError(message, status_code=403)


def decode_json(raw: bytes | str, what: str = "body") -> Any:
    """Decode JSON; a 400 naming ``what`` if it is not JSON."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise RequestError(f"{what}: not valid JSON: {exc}") from None


def verp_delivery(addresses: BounceAddresses | None, sender: object) -> str | None:
    """The delivery a provider-reported envelope sender names, when it is a genuine VERP address."""
    if addresses is None or not isinstance(sender, str) or "+" not in sender:
        return None
    try:
        return addresses.read(sender)
    except InvalidBounceAddress:
        return None  # the provider's event is signed: fall back to its Message-ID


def text_of(event: Mapping[str, Any], key: str) -> str | None:
    """A string field of an event, or None."""
    value = event.get(key)
    return value.strip() or None if isinstance(value, str) else None


async def record_all(recorder: FeedbackRecorder, reports: Iterable[Report], ignored: int = 0) -> Summary:
    """Record each report; the summary of what happened."""
    summary = Summary(ignored=ignored)
    counts = {"recorded": 0, "waiting": 0, "retrying": 0, "duplicate": 0, "unmatched": 0}
    for report in reports:
        counts[(await recorder.record(report, keep_unmatched=True)).state] += 1
    summary.recorded, summary.waiting = counts["recorded"], counts["waiting"] + counts["retrying"]
    summary.duplicates, summary.unmatched = counts["duplicate"], counts["unmatched"]
    return summary
