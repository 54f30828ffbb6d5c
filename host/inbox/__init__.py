"""Inbox: the messages ``tidings run`` captures instead of sending, for channels with no provider configured.

:mod:`~.captures` (the :class:`~host.inbox.captures.Inbox`: the capture sink of the inbox providers,
host.plugins.capture, storing each capture with its exact bytes, chunked past a few megabytes; search
by recipient, clear) and :mod:`~.views` (what the JSON API and the console show of a capture: an
e-mail's headers, bodies and attachments read back from its MIME). Only the embedded mode has one;
``tidings api`` and ``tidings worker`` never capture.

May import: host.errors, host.settings, host.storage, host.plugins.
"""
