"""The Tidings staff console: an app plugin (entry point ``console`` of ``tidings.plugins``).

Server-rendered pages (Jinja2 + vendored htmx) under ``/console``, behind staff login. The console is
registered exactly as a third-party add-on would be (host.plugins.app) and receives the Runtime through
dependency injection; it calls the host's services (``runtime.templates``, ``runtime.users``,
``runtime.dispatches`` ...), never their collections. Its own storage (staff accounts, sessions, login
throttling) is :class:`admin_ui.console.Console`.

May import: host.errors, host.settings, host.storage, host.plugins, host.access, host.templates,
host.audience, host.dispatch, host.delivery, host.events, host.feedback, host.inbox, host.runtime.
"""
