"""Handlebars engines on the same messages: render and compile cost, memory, fidelity, reach.

Candidates: Tidings' interpreter (host/templates/rendering/handlebars); the same messages written in Jinja
(Tidings' Jinja sandbox, the cost of the translation the interpreter replaced); and the real handlebars.js
4.7 + handlebars-helpers 0.10 (the npm packages of tests/reference/handlebars) inside QuickJS
(``quickjs``), V8 (``mini-racer``) and Duktape (``dukpy``). Fidelity is each candidate's output compared
with handlebars.js under Node on the same inputs (tests/integration/host/templates/reference.py).

Run: ``.venv/bin/python -m bench.handlebars_engines [--renders 2000] [--rounds 10]`` (needs ``npm ci --prefix
tests/reference/handlebars`` and the bench extra).
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from host.templates.rendering import Renderer
from tests.support.handlebars_reference import render_reference

NOW = "2025-03-10T12:34:56.789Z"
USER = {"name": "mario", "surname": "Rossi", "email": "mario.rossi@example.com"}
DATA = {
    "type": "patients",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "appointmentDate": "01/01/2021",
    "startDate": "2024-05-01T10:00:00Z",
    "note": 'Bring your card & "documents"',
    "items": [
        {"name": "apple", "qty": 3, "price": 1.5},
        {"name": "banana", "qty": 1, "price": 0.25},
        {"name": "cherry", "qty": 12, "price": 4},
    ],
}
# (name, Handlebars source, the same message in Jinja, HTML body?)
MESSAGES = [
    (
        "plain",
        "Hello, {{user.name}}! Your appointment is on {{data.appointmentDate}}.",
        "Hello, {{ user.name }}! Your appointment is on {{ data.appointmentDate }}.",
        False,
    ),
    (
        "mia example",
        '{{#if (eq data.type "patients")}}{{data.firstName}} {{data.lastName}}{{/if}}',
        "{% if data.type == 'patients' %}{{ data.firstName }} {{ data.lastName }}{% endif %}",
        False,
    ),
    (
        "order lines",
        "{{#each data.items}}{{capitalize name}}: {{qty}} x {{toFixed price 2}} = "
        "{{toFixed (multiply qty price) 2}}{{#unless @last}}; {{/unless}}{{/each}}",
        "{% for i in data.items %}{{ i.name|capitalize }}: {{ i.qty }} x {{ '%.2f'|format(i.price) }} = "
        "{{ '%.2f'|format(i.qty * i.price) }}{% if not loop.last %}; {% endif %}{% endfor %}",
        False,
    ),
    (
        "dates",
        '{{moment data.startDate "dddd D MMMM YYYY, HH:mm"}}',
        "{{ dateFormat(data.startDate, 'dddd D MMMM YYYY, HH:mm') }}",
        False,
    ),
    (
        "html e-mail",
        "<h1>Hello {{user.name}}</h1><ul>{{#each data.items}}<li>{{name}} ({{qty}})</li>{{/each}}</ul>"
        "<p>{{data.note}}</p>",
        "<h1>Hello {{ user.name }}</h1><ul>{% for i in data.items %}<li>{{ i.name }} ({{ i.qty }})</li>"
        "{% endfor %}</ul><p>{{ data.note }}</p>",
        True,
    ),
]
_PROBE = (
    "[typeof require, typeof process, typeof std, typeof os, typeof fetch, typeof XMLHttpRequest].join(' ')"
)


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


class Candidate:
    """One engine: ``compile(name, source, html)`` once, then ``render(name)`` per message."""

    name = ""
    limits = ""
    reach = ""

    def load(self) -> None:
        """Start the engine (and load the library into it)."""

    def compile(self, key: str, source: str, jinja: str, html: bool) -> None:
        raise NotImplementedError

    def render(self, key: str) -> str:
        raise NotImplementedError


class Tidings(Candidate):
    name = "tidings interpreter"
    limits = "work, time, output, value size (RenderLimits)"
    reach = "the context's own keys, indexes and length; 159 helpers"

    def load(self) -> None:
        now = datetime.fromisoformat(NOW)
        self.renderer = Renderer(clock=lambda: now, cache_size=0)
        self.templates: dict[str, Any] = {}

    def compile(self, key: str, source: str, jinja: str, html: bool) -> None:
        self.templates[key] = self.renderer.compile(source, field=key, html=html, syntax="handlebars")

    def render(self, key: str) -> str:
        return str(self.templates[key].render(USER, DATA))


class Jinja(Tidings):
    name = "jinja sandbox (same messages)"
    reach = "Jinja's immutable sandbox over Python objects (deny-list)"

    def compile(self, key: str, source: str, jinja: str, html: bool) -> None:
        self.templates[key] = self.renderer.compile(jinja, field=key, html=html)


class JavaScript(Candidate):
    """handlebars.js in an embedded engine; each render passes the context as JSON."""

    def compile(self, key: str, source: str, jinja: str, html: bool) -> None:
        from bench.js_handlebars import helper_names_used

        self.call("compileTemplate", key, source, html, helper_names_used(source))

    def render(self, key: str) -> str:
        return str(self.call("renderTemplate", key, json.dumps({"user": USER, "data": DATA})))

    def call(self, function: str, *args: Any) -> Any:
        raise NotImplementedError


class QuickJS(JavaScript):
    name = "handlebars.js in QuickJS"
    limits = "time (interrupt handler) and memory"

    def load(self) -> None:
        import quickjs

        from bench.js_handlebars import HANDLEBARS_SOURCE

        self.context = quickjs.Context()
        self.reach = str(self.context.eval(_PROBE))
        self.context.set_memory_limit(256 * 2**20)
        self.context.set_time_limit(2.0)
        self.context.eval(HANDLEBARS_SOURCE)
        self.functions: dict[str, Any] = {}

    def call(self, function: str, *args: Any) -> Any:
        if function not in self.functions:
            self.functions[function] = self.context.get(function)
        return self.functions[function](*(json.dumps(a) if isinstance(a, list) else a for a in args))


class MiniRacer(JavaScript):
    name = "handlebars.js in V8 (mini-racer)"
    limits = "time and memory per call"

    def load(self) -> None:
        from py_mini_racer import MiniRacer as V8

        from bench.js_handlebars import HANDLEBARS_SOURCE

        self.v8 = V8()
        self.reach = str(self.v8.eval(_PROBE))
        self.v8.eval(HANDLEBARS_SOURCE)

    def call(self, function: str, *args: Any) -> Any:
        return self.v8.call(function, *args, timeout=2000)


class Duktape(JavaScript):
    name = "handlebars.js in Duktape (dukpy)"
    limits = "none"

    def load(self) -> None:
        import dukpy

        from bench.js_handlebars import HANDLEBARS_SOURCE

        self.duktape = dukpy.JSInterpreter()
        self.reach = str(self.duktape.evaljs(_PROBE))
        self.duktape.evaljs(HANDLEBARS_SOURCE)

    def call(self, function: str, *args: Any) -> Any:
        names = ", ".join(f"dukpy.a{i}" for i in range(len(args)))
        return self.duktape.evaljs(f"{function}({names})", **{f"a{i}": a for i, a in enumerate(args)})


def _batch(action: Callable[[], Any], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        action()
    return (time.perf_counter() - started) / count * 1e6


def _reference() -> dict[str, str]:
    cases = [
        {
            "id": key,
            "template": source,
            "context": {"user": USER, "data": DATA},
            "html": html,
            "locale": "en-US",
        }
        for key, source, _, html in MESSAGES
    ]
    return {key: result.output for key, result in render_reference(cases, NOW).items()}


def prepare(candidate: Candidate, expected: dict[str, str]) -> dict[str, Any]:
    """Load the engine and compile the messages: load time, memory, compile cost, fidelity."""
    before = _rss_mb()
    started = time.perf_counter()
    candidate.load()
    load_ms = (time.perf_counter() - started) * 1e3
    compile_us = []
    for key, source, jinja, html in MESSAGES:
        started = time.perf_counter()
        candidate.compile(key, source, jinja, html)
        candidate.render(key)  # handlebars.js compiles on its first call: count it here
        compile_us.append((time.perf_counter() - started) * 1e6)
    return {
        "load_ms": load_ms,
        "memory_mb": _rss_mb() - before,
        "compile_us": sum(compile_us) / len(compile_us),
        "differ": [key for key, *_ in MESSAGES if candidate.render(key) != expected[key]],
        "render_us": dict.fromkeys((key for key, *_ in MESSAGES), float("inf")),
    }


def measure(candidates: dict[Candidate, dict[str, Any]], renders: int, rounds: int) -> None:
    """Render cost: the candidates take turns, batch after batch, and each keeps its fastest batch (the
    one least disturbed by whatever else the machine runs)."""
    batch = max(1, renders // rounds)
    for _ in range(rounds):
        for candidate, result in candidates.items():
            for key, *_ in MESSAGES:
                spent = _batch(functools.partial(candidate.render, key), batch)
                result["render_us"][key] = min(result["render_us"][key], spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=2000, help="renders per message and candidate")
    parser.add_argument("--rounds", type=int, default=10, help="batches the renders are split into")
    args = parser.parse_args()
    expected = _reference()
    candidates: dict[Candidate, dict[str, Any]] = {}
    notes = []
    engines: tuple[Candidate, ...] = (Tidings(), Jinja(), QuickJS(), MiniRacer(), Duktape())
    for candidate in engines:
        try:
            candidates[candidate] = prepare(candidate, expected)
        except ImportError as exc:
            notes.append(f"{candidate.name}: not installed ({exc.name}: uv sync --extra bench)")
    measure(candidates, args.renders, args.rounds)
    print(
        f"{len(MESSAGES)} messages, {args.renders} renders each in {args.rounds} batches taking turns;"
        " µs per render of the fastest batch (mean over the messages)\n"
    )
    header = (
        f"{'candidate':34} {'render µs':>9} {'compile µs':>10} {'load ms':>8} {'RSS MB':>7} {'= Node':>6}"
    )
    print(header + "   per message: " + ", ".join(key for key, *_ in MESSAGES))
    for candidate, result in candidates.items():
        mean = sum(result["render_us"].values()) / len(MESSAGES)
        jinja = isinstance(candidate, Jinja)
        same = "n/a" if jinja else f"{len(MESSAGES) - len(result['differ'])}/{len(MESSAGES)}"
        if result["differ"] and not jinja:
            notes.append(f"{candidate.name}: differs from Node on {', '.join(result['differ'])}")
        each = ", ".join(f"{value:.0f}" for value in result["render_us"].values())
        print(
            f"{candidate.name:34} {mean:9.1f} {result['compile_us']:10.0f} {result['load_ms']:8.1f}"
            f" {result['memory_mb']:7.1f} {same:>6}   {each}"
        )
        notes.append(f"{candidate.name}: limits: {candidate.limits}; reaches: {candidate.reach}")
    print(
        "\nlimits, and what a template's engine exposes (typeof require process std os fetch XMLHttpRequest):"
    )
    for note in notes:
        print("  " + note)


if __name__ == "__main__":
    main()
