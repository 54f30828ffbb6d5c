"""The real handlebars.js + handlebars-helpers, loaded into an embedded JavaScript engine for the benchmark.

The npm packages of tests/reference/handlebars are read from disk; their CommonJS modules are resolved
statically here (Node's algorithm over ``require('…')`` string literals) into one JavaScript source: a
module table and a tiny ``require``. Node's built-in modules the helpers touch (``fs``, ``path``, ``url``,
``util``, ``querystring``) are stubs. The result runs in any engine with ``eval`` (QuickJS, V8, Duktape).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["HANDLEBARS_SOURCE", "helper_names_used"]

_ROOT = Path(__file__).resolve().parents[1] / "tests" / "reference" / "handlebars"
_REQUIRE = re.compile(r"""require\(\s*['"]([^'"]+)['"]""")
_BUILTINS = {
    "fs": "module.exports = {};",
    "path": (
        "module.exports = {extname: function (p) { var m = /\\.[^./]*$/.exec(p); return m ? m[0] : ''; },"
        " join: function () { return Array.prototype.join.call(arguments, '/'); },"
        " posix: {join: function () { return Array.prototype.join.call(arguments, '/'); }}, sep: '/'};"
    ),
    "util": (
        "module.exports = {inspect: function (x) { return JSON.stringify(x); },"
        " deprecate: function (f) { return f; },"
        " inherits: function (c, p) { c.super_ = p; c.prototype = Object.create(p.prototype); }};"
    ),
    "url": (
        "module.exports = {parse: function (s) { return {href: s}; },"
        " resolve: function (a, b) { return b; }};"
    ),
    "querystring": "module.exports = {escape: encodeURIComponent};",
    "tty": "module.exports = {isatty: function () { return false; }};",
    "os": "module.exports = {};",
    "stream": "module.exports = function () {};",
    "events": "module.exports = function () {};",
}


def _as_file(path: Path) -> Path | None:
    for candidate in (path, path.with_name(path.name + ".js"), path.with_name(path.name + ".json")):
        if candidate.is_file():
            return candidate
    if path.is_dir():
        manifest = path / "package.json"
        if manifest.is_file():
            main = json.loads(manifest.read_text()).get("main")
            if main:
                found = _as_file((path / main).resolve())
                if found:
                    return found
        for index in ("index.js", "index.json"):
            if (path / index).is_file():
                return path / index
    return None


def _resolve(directory: Path, name: str) -> str | None:
    if name in _BUILTINS:
        return "builtin:" + name
    if name.startswith(("./", "../", "/")):
        found = _as_file((directory / name).resolve())
        return str(found) if found else None
    for folder in [directory, *directory.parents]:
        found = _as_file(folder / "node_modules" / name)
        if found:
            return str(found)
        if folder == _ROOT:
            break
    return "builtin:" + name  # another Node built-in (readline, crypto, …): an empty stub


def _bundle() -> str:
    modules: dict[str, str] = {}
    links: dict[str, str] = {}
    pending = [str(_as_file(_ROOT / "node_modules" / name)) for name in ("handlebars", "handlebars-helpers")]
    while pending:
        path = pending.pop()
        if path in modules:
            continue
        if path.startswith("builtin:"):
            modules[path] = _BUILTINS.get(path.removeprefix("builtin:"), "module.exports = {};")
            continue
        text = Path(path).read_text(encoding="utf-8")
        modules[path] = "module.exports = " + text + ";" if path.endswith(".json") else text
        for name in _REQUIRE.findall(text):
            target = _resolve(Path(path).parent, name)
            if target is not None:
                links[path + "\0" + name] = target
                pending.append(target)
    entry = {
        "handlebars": str(_as_file(_ROOT / "node_modules" / "handlebars")),
        "helpers": str(_as_file(_ROOT / "node_modules" / "handlebars-helpers")),
    }
    functions = ",\n".join(
        f"{json.dumps(path)}: function (module, exports, require) {{\n{source}\n}}"
        for path, source in modules.items()
    )
    return f"""
var global = globalThis;
var process = {{env: {{}}, platform: 'linux', version: 'v20.0.0', versions: {{node: '20.0.0'}},
  cwd: function () {{ return '/'; }}, nextTick: function (f) {{ f(); }}, stdout: {{}}, stderr: {{}}}};
var console = {{log: function () {{}}, error: function () {{}}, warn: function () {{}},
  info: function () {{}}}};
var __links = {json.dumps(links)};
var __modules = {{{functions}}};
var __cache = {{}};
function __load(path) {{
  if (__cache[path]) return __cache[path].exports;
  var module = {{exports: {{}}}};
  __cache[path] = module;
  __modules[path](module, module.exports, function (name) {{
    var target = __links[path + '\\u0000' + name];
    if (!target) throw new Error('Cannot find module ' + name);
    return __load(target);
  }});
  return module.exports;
}}
var Handlebars = __load({json.dumps(entry["handlebars"])});
var hbs = Handlebars.create();
var HELPERS = {{}};
__load({json.dumps(entry["helpers"])})({{handlebars: {{registerHelper: function (name, fn) {{
  if (typeof name === 'object') {{ for (var k in name) HELPERS[k] = name[k]; }} else {{ HELPERS[name] = fn; }}
}}, helpers: HELPERS}}}});
var TEMPLATES = {{}};
var htmlEscape = hbs.Utils.escapeExpression;
function plainExpression(value) {{
  if (typeof value !== 'string') {{
    if (value && value.toHTML) return value.toHTML();
    if (value == null) return '';
    return '' + value;
  }}
  return value;
}}
// only the helpers a template names are handed to it: handlebars.js copies every registered helper on
// each render, which with the library's 150-odd helpers costs more than the render itself
function compileTemplate(id, source, html, names) {{
  if (typeof names === 'string') names = JSON.parse(names);
  var helpers = {{}};
  for (var i = 0; i < names.length; i++) if (HELPERS[names[i]]) helpers[names[i]] = HELPERS[names[i]];
  var template = hbs.compile(source);
  TEMPLATES[id] = function (context) {{ return template(context, {{helpers: helpers}}); }};
  // handlebars.js compiles on the first call and keeps the escape function it finds then
  hbs.Utils.escapeExpression = html ? htmlEscape : plainExpression;
  try {{ TEMPLATES[id]({{}}); }} catch (e) {{}} finally {{ hbs.Utils.escapeExpression = htmlEscape; }}
  return 1;
}}
function renderTemplate(id, json) {{ return TEMPLATES[id](JSON.parse(json)); }}
"""


def helper_names_used(source: str) -> list[str]:
    """Every name in ``source`` that could call a helper (a superset: each lone name)."""
    return sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source)))


HANDLEBARS_SOURCE = _bundle()
