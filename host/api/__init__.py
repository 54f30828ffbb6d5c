"""The HTTP edge: the Litestar application, its error shape, API-key checks, idempotency, and the routes.

:mod:`~.app` (``create_app``: the Tidings plugin and the discovered app plugins), :mod:`~.errors` (every error
as ``{statusCode, error, message}``), :mod:`~.auth` (scopes), :mod:`~.idempotency` (the ``Idempotency-Key``
middleware), :mod:`~.paging`, :mod:`~.server` (the ASGI app of ``tidings api``), the OpenAPI document's
completion (:mod:`~.openapi`, :mod:`~.openapi_examples`, :mod:`~.openapi_callbacks`), :mod:`~.embedded`
(``/dev/inbox`` under ``tidings run`` only) and :mod:`host.api.routes`. The one room of host/ that imports
Litestar; handlers call the Runtime's services, never its collections.

May import: host.errors, host.settings, host.storage, host.plugins, host.access, host.templates,
host.audience, host.dispatch, host.delivery, host.events, host.feedback, host.inbox, host.runtime.
"""
