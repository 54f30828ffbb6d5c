"""Handlebars as Mia's Messaging Service renders it: handlebars.js 4.7 with handlebars-helpers 0.10.

A Handlebars template is parsed, its whitespace controlled and compiled into Python closures once, then
rendered per user with ``user`` and ``data`` as its context::

    template = HandlebarsTemplate('{{#if (eq data.kind "x")}}{{capitalize user.name}}{{/if}}', html=False)
    template.render({"user": {"name": "ada"}, "data": {"kind": "x"}})   # 'Ada'

The language is handlebars.js 4.7's: paths (``a.b``, ``../a``, ``this``, ``[any key]``, ``@index @key
@first @last @root``), block parameters (``as |item i|``), helpers with arguments, ``key=value`` pairs
and subexpressions, blocks with ``{{else}}`` and ``{{else if …}}``, inverse sections (``{{^x}}``), blocks
over values (``{{#items}}``), raw blocks, comments, ``~`` whitespace control and standalone lines. Values
behave as in JavaScript (:mod:`.js`): ``true``, ``2`` for 2.0, ``a,b`` for an array, ``[object Object]``.
Partials and decorators are refused when the template is compiled, as are helpers Tidings does not have
or does not allow (:mod:`.helpers`), naming the helper and the line.

Rendering reaches nothing but the context and the helpers: no attribute of a Python object, only a value's
own keys, indexes and ``length``; every statement, helper call and iteration is charged to the render's
budget (:mod:`host.templates.rendering.budget`), as is the text it produces.

In HTML bodies ``{{x}}`` escapes as handlebars.js does (``&amp; &lt; &gt; &quot; &#x27; &#x60; &#x3D;``)
and then turns each newline into ``<br/>`` (Tidings' rule, SPEC §4); ``{{{x}}}`` prints the value as it
is. Elsewhere (titles, SMS, push, voice) nothing is escaped, where Mia would escape those too.
"""

from __future__ import annotations

from host.templates.rendering.handlebars.template import HandlebarsTemplate

__all__ = ["HandlebarsTemplate"]
