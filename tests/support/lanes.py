"""The dispatch and delivery services of the session stack with another configuration and a stand-in broker.

For the tests of lanes and quiet hours: everything runs on the test's loop against the stack's database,
and what would reach the broker is kept by :class:`~tests.support.enqueued.Enqueued` (with its lane), so
a test sees exactly where each batch goes and when, and calls the worker and the background passes
itself with an injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from host.delivery.worker import DeliveryWorker
from host.dispatch.accept import Dispatcher
from host.dispatch.deferrals import Deferrals
from host.dispatch.expansion import Expansion
from host.dispatch.outbox import Outbox
from host.dispatch.recovery import RecoverySweep
from host.dispatch.scheduling import Scheduler
from host.dispatch.service import DispatchService
from host.settings import Settings
from tests.support.enqueued import Enqueued
from tests.support.stacks import Stack

__all__ = ["Services", "services"]


@dataclass
class Services:
    """One Runtime's worth of services, built by :func:`services`."""

    settings: Settings
    enqueued: Enqueued
    outbox: Outbox
    dispatcher: Dispatcher
    worker: DeliveryWorker
    deferrals: Deferrals
    scheduler: Scheduler
    sweep: RecoverySweep
    dispatches: DispatchService
    #: dispatch ids handed to the fan-out (call ``dispatcher.expand`` to run it)
    expansions: list[str] = field(default_factory=list)


def services(stack: Stack, **config: Any) -> Services:
    """The stack's services with these configuration fields replaced (``lanes=LanePolicy(...)`` ...)."""
    runtime = stack.runtime
    settings = msgspec.structs.replace(
        runtime.settings, config=msgspec.structs.replace(runtime.settings.config, **config)
    )
    enqueued = Enqueued()
    batch_sizes = {name: channel.limits.batch_size for name, channel in runtime.registry.items()}
    outbox = Outbox(runtime.store, enqueued, batch_sizes)
    expansions: list[str] = []
    expansion = Expansion(
        runtime.store, runtime.registry, outbox, runtime.opt_outs, lanes=settings.config.lanes
    )
    dispatcher = Dispatcher(
        settings, runtime.registry, runtime.renderer, runtime.templates, expansion, expansions.append
    )
    store = runtime.store
    worker = DeliveryWorker(
        store, settings, runtime.registry, runtime.renderer, outbox, runtime.templates, runtime.opt_outs
    )
    deferrals = Deferrals(runtime.store, outbox)
    return Services(
        settings=settings,
        enqueued=enqueued,
        outbox=outbox,
        dispatcher=dispatcher,
        worker=worker,
        deferrals=deferrals,
        scheduler=Scheduler(runtime.store, expansions.append, deferrals),
        sweep=RecoverySweep(runtime.store, outbox, expansions.append, settings.config.delivery),
        dispatches=DispatchService(runtime.store, outbox),
        expansions=expansions,
    )
