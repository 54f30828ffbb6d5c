"""Provider failover: a channel's providers tried in order within one attempt, each behind a circuit breaker.

The delivery worker opens a :class:`ProviderChain` where it used to open the channel. The chain connects
to the first provider whose circuit lets it through and to the next ones only when needed. A transient
error (connection refused, SMTP 4xx, a timeout) or an open circuit moves the message to the next provider
within the same attempt; a permanent error does not (the address is as bad everywhere), nor does a bug.
A provider that could not be opened is not opened again for the rest of the batch. The receipt names the
provider that sent it: ``"backup (smtp://127.0.0.1:2526)"``.

The circuit breakers live in the memory of each worker process (one per provider, shared by all batches
and lanes of that process): after ``failures`` consecutive transient failures a circuit opens and the
provider is skipped; after ``coolDownSeconds`` one trial message is let through (half-open), which
closes the circuit if it succeeds and opens it again if it fails. Each worker process learns on its own.
A channel configured with neither ``providers`` nor ``circuit`` has no breaker (host.plugins.providers).

The breaker is ours, not pybreaker's or aiobreaker's: those wrap one call and raise when open, while here
the chain asks each provider's breaker for a permit before choosing it, within one attempt, and hands a
half-open circuit's single trial to one of the process's concurrent batches (a permit that can also be
abandoned without a verdict); that state machine is about 70 lines, and the libraries' shape would need
more code around it than it replaces.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Literal, cast

import msgspec

from host.errors import ChannelError, PermanentChannelError, TransientChannelError
from host.plugins.channel import Channel, Lookahead, Message, Receipt, Sender
from host.plugins.providers import CircuitPolicy, circuit_policy
from host.plugins.registry import ChannelRegistry
from host.settings import ServiceConfig

__all__ = ["CircuitBreaker", "FailoverSender", "Provider", "ProviderChain", "build_chains"]

log = logging.getLogger(__name__)

Permit = Literal["pass", "trial"]


class CircuitBreaker:
    """Counts one provider's consecutive transient failures; open means skip it for a cool-down.

    Not thread-safe: every caller runs on the worker's one event loop.
    """

    def __init__(
        self, label: str, policy: CircuitPolicy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._label = label
        self._policy = policy
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> Literal["closed", "open", "half-open"]:
        """``closed`` (used), ``open`` (skipped) or ``half-open`` (a trial is due or running)."""
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._trial or self.remaining() == 0 else "open"

    def remaining(self) -> float:
        """Seconds until an open circuit lets a trial through (0 when closed or due)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._policy.cool_down_seconds - self._clock())

    def acquire(self) -> Permit | None:
        """``"pass"`` when closed, ``"trial"`` for the one trial of a due circuit, else None (skip it)."""
        if self._opened_at is None:
            return "pass"
        if self._trial or self.remaining() > 0:
            return None
        self._trial = True
        return "trial"

    def succeeded(self) -> None:
        """The provider took a message (or answered for it): close the circuit."""
        if self._opened_at is not None:
            log.warning("provider %s is back: circuit closed", self._label)
        self._failures = 0
        self._opened_at = None
        self._trial = False

    def failed(self, permit: Permit) -> None:
        """A transient failure: a failed trial reopens the circuit, N in a row open it."""
        if permit == "trial":
            self._trial = False
            self._opened_at = self._clock()
            log.warning("provider %s failed its trial: circuit open again", self._label)
            return
        if self._opened_at is not None:
            return  # already open (another batch of this process opened it meanwhile)
        self._failures += 1
        if self._failures >= self._policy.failures:
            self._opened_at = self._clock()
            log.warning(
                "provider %s failed %d times in a row: circuit open for %.0f s",
                self._label,
                self._failures,
                self._policy.cool_down_seconds,
            )

    def abandoned(self, permit: Permit) -> None:
        """The permit ended without a verdict (nothing sent, or cancelled): free the trial."""
        if permit == "trial":
            self._trial = False


class Provider:
    """One provider of a channel in this worker process: its channel instance, breaker and label."""

    def __init__(
        self, channel_name: str, name: str | None, channel: Channel, policy: CircuitPolicy | None
    ) -> None:
        self.name = name
        self.channel = channel
        self.label = name or str(getattr(channel, "provider", "") or channel_name)  # in statistics
        label = f"{channel_name} provider {name}" if name else f"{channel_name} provider"
        self.breaker = CircuitBreaker(label, policy) if policy is not None else None

    def acquire(self) -> Permit | None:
        """Whether this provider may be used now (always, without a breaker)."""
        return "pass" if self.breaker is None else self.breaker.acquire()

    def receipt(self, receipt: Receipt) -> Receipt:
        """The receipt naming this provider: ``"backup (smtp://host:port)"``."""
        if self.name is None:
            return receipt
        provider = f"{self.name} ({receipt.provider})" if receipt.provider else self.name
        return msgspec.structs.replace(receipt, provider=provider)


class _Route:
    """One provider as one batch lane uses it: its open connection, or why it could not be opened."""

    __slots__ = ("broken", "permit", "provider", "sender", "verdicts")

    def __init__(self, provider: Provider, verdicts: list[tuple[str, bool]]) -> None:
        self.provider = provider
        self.verdicts = verdicts  # the lane's, for statistics: (label, whether the provider was fine)
        self.sender: Sender | None = None
        self.broken: ChannelError | None = None
        self.permit: Permit | None = None

    def admitted(self) -> bool:
        if self.permit is None:
            self.permit = self.provider.acquire()
        return self.permit is not None

    def verdict(self, ok: bool) -> None:
        self.verdicts.append((self.provider.label, ok))
        breaker, permit, self.permit = self.provider.breaker, self.permit, None
        if breaker is None or permit is None:
            return
        if ok:
            breaker.succeeded()
        else:
            breaker.failed(permit)

    def release(self) -> None:
        breaker, permit, self.permit = self.provider.breaker, self.permit, None
        if breaker is not None and permit is not None:
            breaker.abandoned(permit)


class FailoverSender:
    """What a lane sends through (``ProviderChain.open``): each message to the first provider taking it."""

    def __init__(self, channel_name: str, providers: Sequence[Provider], stack: AsyncExitStack) -> None:
        self._channel_name = channel_name
        self._verdicts: list[tuple[str, bool]] = []
        self._routes = [_Route(provider, self._verdicts) for provider in providers]
        self._stack = stack

    def take_verdicts(self) -> list[tuple[str, bool]]:
        """The providers' verdicts since the last call: whether each one tried was fine, in order."""
        taken, self._verdicts[:] = self._verdicts[:], []
        return taken

    async def _connect(self, route: _Route) -> Sender:
        if route.sender is None:
            try:
                route.sender = await self._stack.enter_async_context(route.provider.channel.open())
            except ChannelError as exc:  # about the provider, never the message: try the next one
                route.broken = exc
                route.verdict(ok=False)
                raise
        return route.sender

    async def connect_first(self) -> None:
        """Connect the first provider that may be used, as a lone channel did; the rest wait until needed.

        With a single provider, a failure here fails the whole lane at once, as before failover existed.
        """
        for route in self._routes:
            if route.admitted():
                try:
                    await self._connect(route)
                except ChannelError:
                    if len(self._routes) == 1:
                        raise
                return
        if len(self._routes) == 1:
            raise self._exhausted([])

    def expect(self, message: Message, address: str) -> None:
        """Announce the next message to the provider it will most likely go to (host.plugins.channel)."""
        for route in self._routes:
            if route.broken is None and route.sender is not None:
                # duck-typed: isinstance on a runtime-checkable protocol costs microseconds a mail
                if getattr(route.sender, "expect", None) is not None:
                    cast("Lookahead", route.sender).expect(message, address)
                return

    async def send(self, message: Message, address: str) -> Receipt:
        """Deliver through the first provider that takes the message; raise if none did."""
        errors: list[tuple[Provider, ChannelError]] = []
        for route in self._routes:
            if route.broken is not None:
                errors.append((route.provider, route.broken))
                continue
            if not route.admitted():
                continue
            try:
                sender = await self._connect(route)
            except ChannelError as exc:
                errors.append((route.provider, exc))
                continue
            try:
                receipt = await sender.send(message, address)
            except TransientChannelError as exc:
                route.verdict(ok=False)
                errors.append((route.provider, exc))
                continue
            except PermanentChannelError:
                route.verdict(ok=True)  # the provider is fine; the message or address is not
                raise
            except BaseException:
                route.release()
                raise
            route.verdict(ok=True)
            return route.provider.receipt(receipt)
        raise self._exhausted(errors)

    def _exhausted(self, errors: list[tuple[Provider, ChannelError]]) -> ChannelError:
        """The error of a message no provider took: a lone provider's own, else one naming each."""
        if len(self._routes) == 1 and len(errors) == 1:
            return errors[0][1]
        failed = {id(provider) for provider, _ in errors}
        parts = [f"{provider.name or 'provider'}: {exc.message}" for provider, exc in errors]
        skipped = [route.provider for route in self._routes if id(route.provider) not in failed]
        parts += [f"{provider.name or 'provider'}: circuit open" for provider in skipped]
        waits = [p.breaker.remaining() for p in skipped if p.breaker is not None]
        last = errors[-1][1] if errors else None
        if last is not None and not skipped and all(isinstance(e, PermanentChannelError) for _, e in errors):
            return last  # every provider refused to open for good: keep that verdict
        retry_after = last.retry_after if isinstance(last, TransientChannelError) else None
        if not errors and waits:
            retry_after = min(waits)
        return TransientChannelError(
            f"no {self._channel_name} provider took the message ({'; '.join(parts)})",
            code=last.code if last is not None else "circuit-open",
            retry_after=retry_after,
        )

    def release(self) -> None:
        """Give back permits that got no verdict (a half-open trial must not stay taken)."""
        for route in self._routes:
            route.release()


class ProviderChain:
    """A channel's providers in order; ``open()`` stands in for the channel's own ``open()``."""

    def __init__(self, channel_name: str, providers: Sequence[Provider]) -> None:
        if not providers:
            raise ValueError(f"the {channel_name} channel has no provider")
        self.channel_name = channel_name
        self.providers = tuple(providers)

    @asynccontextmanager
    async def open(self) -> AsyncIterator[FailoverSender]:
        """A sender for one lane; providers after the first usable one are connected only when needed."""
        async with AsyncExitStack() as stack:
            sender = FailoverSender(self.channel_name, self.providers, stack)
            try:
                await sender.connect_first()
                yield sender
            finally:
                sender.release()


def build_chains(config: ServiceConfig, registry: ChannelRegistry) -> dict[str, ProviderChain]:
    """One chain per active channel, with fresh breakers (this worker process's own)."""
    chains: dict[str, ProviderChain] = {}
    for name in registry:
        policy = circuit_policy(config, name)
        providers = [Provider(name, slot.name, slot.channel, policy) for slot in registry.providers(name)]
        chains[name] = ProviderChain(name, providers)
    return chains
