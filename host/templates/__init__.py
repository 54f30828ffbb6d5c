"""Templates: rendering in the sandbox, the text fields, composing a channel's message, history, locales.

:mod:`host.templates.rendering` (sandboxed Jinja2, Handlebars translated into it), :mod:`~.fields` (the text
fields and template categories, in one list), :mod:`~.composition` (which field feeds which message attribute,
rendered per user), :mod:`~.history` (versions), :mod:`~.locales` (variants per locale), :mod:`~.push_data`
(Mia's ``pushData`` string), :mod:`~.attachment_names`, :mod:`~.catalogue` (Tidings' collection or Mia's in
place, :mod:`~.mia_shape` converting), :mod:`~.mia_import` (``tidings templates import-mia``) and
:mod:`~.service` (the template service the API and the console call).

May import: host.errors, host.settings, host.storage, host.plugins, host.access.
"""
