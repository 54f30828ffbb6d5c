"""Audience: the users a dispatch reaches, what each gets, and the directory of users and clusters.

:mod:`~.users` (mapped fields, id spellings, lookups, cluster streams), :mod:`~.planning` (the deliveries
and known failures of a batch of users), :mod:`~.opt_outs`, :mod:`~.suppressions` (e-mail addresses that
bounced or complained), :mod:`~.quiet_hours` (users' quiet windows in their time zones),
:mod:`~.directory` (the user service), :mod:`~.clusters` (the cluster service), :mod:`~.user_import` and
:mod:`~.user_records` (streamed bulk upserts).

May import: host.errors, host.settings, host.storage, host.plugins, host.templates, host.delivery.lifecycle.
"""
