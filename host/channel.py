"""The Channel protocol, as plugins written before the rooms import it: a re-export of host.plugins."""

from __future__ import annotations

from host.plugins.channel import Attachment, Channel, ChannelContext, Limits, Message, Receipt, Sender

__all__ = ["Attachment", "Channel", "ChannelContext", "Limits", "Message", "Receipt", "Sender"]
