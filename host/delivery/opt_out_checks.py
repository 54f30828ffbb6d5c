"""The send-time checks: an opt-out, a suppression or a soft-delete recorded after a dispatch was accepted
still wins.

The fan-out already skipped the users opted out then and the e-mails to addresses suppressed then
(host.audience.planning); just before sending, the claimed deliveries are checked again with one ``$in``
on ``opt_outs._id`` per batch, and those whose user opted out since end ``skipped`` (``opted-out``);
claimed e-mails are checked with one ``$in`` on ``suppressions._id``, and those to an address suppressed
since end ``skipped`` (``suppressed``). Transactional dispatches (their template's ``category``, recorded on
the dispatch) are not checked for opt-outs, and only for the suppressions of undeliverable addresses
(host.audience.suppressions). Likewise a user whose CRUD state left ``PUBLIC`` since the fan-out
(host.audience.users.inactive_state) gets nothing: ``skipped`` (``not-public``).

A dispatch's category is read with the whole dispatch, which is kept until the worker builds the
dispatch's composer (:meth:`SendTimeOptOuts.take_dispatch`): a new dispatch costs a batch one read, not
two (what a lone transactional e-mail pays most: one round trip of the eleven its batch makes).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from host.audience.opt_outs import OPTED_OUT, OptOuts, opt_out_id, opted_out_message
from host.audience.planning import SUPPRESSIBLE
from host.audience.suppressions import (
    SUPPRESSED,
    Suppressions,
    blocking_reasons,
    suppressed_message,
    suppression_key,
)
from host.audience.users import NOT_PUBLIC, inactive_message, inactive_state
from host.delivery.outcomes import Outcome, OutcomeRecorder
from host.storage.store import Store
from host.templates.fields import opt_outs_apply

__all__ = ["SendTimeOptOuts"]

Doc = dict[str, Any]
#: dispatch categories kept by a worker (a dispatch's category never changes)
_CATEGORIES_KEPT = 4096
#: dispatches read for their category, kept for the composer (taken once: it keeps what it needs)
_DISPATCHES_KEPT = 32


class SendTimeOptOuts:
    """Settles the claimed deliveries whose user opted out since the fan-out, as ``skipped``."""

    def __init__(
        self,
        store: Store,
        opt_outs: OptOuts,
        outcomes: OutcomeRecorder,
        suppressions: Suppressions | None = None,
    ) -> None:
        self._store = store
        self._opt_outs = opt_outs
        self._outcomes = outcomes
        self._suppressions = suppressions
        self._categories: OrderedDict[str, str | None] = OrderedDict()
        self._dispatches: OrderedDict[str, Doc] = OrderedDict()

    def take_dispatch(self, dispatch_id: str) -> Doc | None:
        """The dispatch document read for its category by this batch or a recent one, if still kept."""
        return self._dispatches.pop(dispatch_id, None)

    async def _categories_of(self, dispatch_ids: set[str]) -> dict[str, str | None]:
        missing = [dispatch_id for dispatch_id in dispatch_ids if dispatch_id not in self._categories]
        if missing:
            found = {doc["_id"]: doc async for doc in self._store.dispatches.find({"_id": {"$in": missing}})}
            for dispatch_id in missing:
                dispatch = found.get(dispatch_id)
                self._categories[dispatch_id] = dispatch.get("category") if dispatch else None
                if dispatch is not None:
                    self._dispatches[dispatch_id] = dispatch
            while len(self._categories) > _CATEGORIES_KEPT:
                self._categories.popitem(last=False)
            while len(self._dispatches) > _DISPATCHES_KEPT:
                self._dispatches.popitem(last=False)
        return {dispatch_id: self._categories.get(dispatch_id) for dispatch_id in dispatch_ids}

    async def skip_opted_out(self, name: str, claimed: Sequence[Doc]) -> list[Doc]:
        """Record the opted-out and suppressed ones as skipped; return the rest, to be sent, in order."""
        categories = await self._categories_of({doc["dispatch_id"] for doc in claimed})
        checked = [doc for doc in claimed if opt_outs_apply(categories.get(doc["dispatch_id"]))]
        opted_out = await self._opt_outs.find(opt_out_id(doc["user_id"], name) for doc in checked)
        skipped: list[Doc] = []
        outcomes: list[Outcome] = []
        if opted_out:
            error = {"channel": name, "code": OPTED_OUT, "message": opted_out_message(name)}
            for doc in checked:
                if opt_out_id(doc["user_id"], name) in opted_out:
                    skipped.append(doc)
                    outcomes.append(Outcome("skipped", error=error))
        if name == SUPPRESSIBLE and self._suppressions is not None:
            gone = {doc["_id"] for doc in skipped}
            rest = [doc for doc in claimed if doc["_id"] not in gone and doc.get("address")]
            found = await self._suppressions.find(doc["address"] for doc in rest)
            for doc in rest if found else ():
                category = categories.get(doc["dispatch_id"])
                reasons = blocking_reasons(found.get(suppression_key(doc["address"]), ()), category)
                if reasons:
                    error = {"channel": name, "code": SUPPRESSED, "message": suppressed_message(reasons)}
                    skipped.append(doc)
                    outcomes.append(Outcome("skipped", error=error))
        if not skipped:
            return list(claimed)
        await self._outcomes.record(name, skipped, outcomes)
        gone = {doc["_id"] for doc in skipped}
        return [doc for doc in claimed if doc["_id"] not in gone]

    async def skip_inactive(self, name: str, claimed: Sequence[Doc], users: Mapping[str, Doc]) -> list[Doc]:
        """Record as skipped the deliveries whose user was soft-deleted since; return the rest, in order."""
        fields = self._store.fields
        if fields.state is None:
            return list(claimed)
        skipped: list[Doc] = []
        outcomes: list[Outcome] = []
        for doc in claimed:
            user = users.get(doc["user_id"])
            state = inactive_state(fields, user) if user is not None else None
            if state is not None:
                skipped.append(doc)
                error = {"channel": name, "code": NOT_PUBLIC, "message": inactive_message(fields, state)}
                outcomes.append(Outcome("skipped", error=error))
        if not skipped:
            return list(claimed)
        await self._outcomes.record(name, skipped, outcomes)
        gone = {doc["_id"] for doc in skipped}
        return [doc for doc in claimed if doc["_id"] not in gone]
