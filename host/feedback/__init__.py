"""Feedback: what providers report after a message was accepted (Twilio's status callbacks).

May import: host.errors, host.settings, host.storage, host.audience, host.delivery, host.events.
"""
