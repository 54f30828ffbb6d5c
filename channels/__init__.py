"""The built-in channel plugins: pure delivery code, registered through entry points like any plugin.

Each channel receives an already-rendered message and an address and returns a receipt or raises a
channel error (host.plugins.channel); none imports dramatiq, Litestar or Beanie.

May import: host.errors, host.plugins.
"""
