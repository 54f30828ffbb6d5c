"""The plugin face of the host: the Channel protocol, the registries of channels, providers and app plugins.

Third-party plugins import from here (and from host.errors): the Channel protocol and its Structs
(:mod:`host.plugins.channel`, also importable as ``host.channel``), the conventions every channel follows
(:mod:`host.plugins.conventions`: Retry-After, secret-masking reprs) and the app-plugin base
(:mod:`host.plugins.app`). The host builds its channels with :mod:`host.plugins.registry` from the
``tidings.channels`` and ``tidings.providers`` entry points, and reads the host's own keys of
``channels.<name>`` (:mod:`host.plugins.providers`, :mod:`host.plugins.rates`); :mod:`host.plugins.capture`
builds the embedded mode's inbox providers for channels with none configured.

May import: host.errors, host.settings.
"""

from __future__ import annotations

from host.errors import ChannelError, InvalidAddress, PermanentChannelError, TransientChannelError
from host.plugins.channel import Attachment, Channel, ChannelContext, Limits, Message, Receipt, Sender

__all__ = [
    "Attachment",
    "Channel",
    "ChannelContext",
    "ChannelError",
    "InvalidAddress",
    "Limits",
    "Message",
    "PermanentChannelError",
    "Receipt",
    "Sender",
    "TransientChannelError",
]
