"""Storage: the database handle of one event loop, the documents' shapes, and how writes are made.

:mod:`~host.storage.store` (the PyMongo collections of one async client), :mod:`~host.storage.documents` (the
Beanie documents: shapes and indexes; :mod:`~host.storage.feedback_documents`: those of bounces and
complaints), :mod:`~host.storage.group_commit` (concurrent callers' writes in one round trip),
:mod:`~host.storage.duplicates` (inserting as claiming), :mod:`~host.storage.nesting` (what MongoDB would
refuse, checked before a write), :mod:`~host.storage.queries`, :mod:`~host.storage.migrations` (Beanie's
runner without sessions) and :mod:`host.storage.devdb` (the embedded development database). Nothing here knows
about dispatches' meaning: that is the rooms above.

May import: host.errors, host.settings, host.delivery.lifecycle.
"""
