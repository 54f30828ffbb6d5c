"""Feedback: what providers and mail systems report after a message was accepted.

Twilio's status callbacks (:mod:`~.twilio`); bounces and complaints about e-mails: the bounce listener
(:mod:`~.listener`, an SMTP server) and its mailbox (:mod:`~.mailbox`), which reads DSNs and ARF reports
(:mod:`~.mail_reports`); the e-mail providers' webhooks (:mod:`~.ses` with :mod:`~.sns`,
:mod:`~.sendgrid`, :mod:`~.mailgun`, sharing :mod:`~.esp`); and the recorder they all feed
(:mod:`~.recorder`: suppressions, delivery moves, events).

May import: host.errors, host.settings, host.storage, host.access, host.audience, host.delivery, host.events.
"""
