"""Console preview: p95 time to render a template with every channel's fields, as the editor does.

    .venv/bin/python -m bench.preview [--rounds 2000]

Goes through ``admin_ui.preview.render_preview`` (what ``POST /console/preview`` calls after reading the
form) for a template filling all eight fields (e-mail subject, HTML and text, SMS, push title, subtitle
and body, voice), in three cases: the editor opened (every field compiled anew), a keystroke (one field
changed, the others taken from the renderer's cache) and a refresh (nothing changed). The baseline is
the bare renderer rendering the same fields from templates held in hand. Target (issue 7): p95 ≤ 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from admin_ui.preview import TEMPLATE_FIELDS, render_preview
from host.templates.rendering import Renderer

SOURCES = {
    "email_title": "Your appointment on {{ data.date }}, {{ user.name }}",
    "email_html_message": (
        "<h1>Hello {{ user.name }} {{ user.surname }}</h1>\n"
        "<p>Your appointment is on <b>{{ data.date }}</b> at {{ data.place }}.</p>\n"
        "{% if data.items %}<ul>{% for item in data.items %}<li>{{ item.name }}: {{ item.price }}</li>"
        "{% endfor %}</ul>{% endif %}\n<p>Total: {{ data.total }}</p>\n"
        "{% if user.vip %}<p>As a VIP you skip the queue.</p>{% else %}<p>Please arrive early.</p>{% endif %}"
    ),
    "email_message": (
        "Hello {{ user.name }},\nyour appointment is on {{ data.date }} at {{ data.place }}.\n"
        "{% for item in data.items %}- {{ item.name }}: {{ item.price }}\n{% endfor %}Total: {{ data.total }}"
    ),
    "sms_message": "{{ user.name }}, appointment {{ data.date }} at {{ data.place }}. Reply STOP to opt out.",
    "push_title": "Appointment {{ data.date }}",
    "push_subtitle": "{{ data.place }}",
    "push_message": "{{ user.name }}, see you on {{ data.date }}.",
    "voice_message": "Hello {{ user.name }}. Your appointment is on {{ data.date }} at {{ data.place }}.",
}
USER = {"name": "Mario", "surname": "Rossi", "mail": "mario@example.com", "vip": True}
DATA = {
    "date": "2026-01-15 10:30",
    "place": "Via Roma 1, Milano",
    "items": [{"name": f"item {i}", "price": f"{i * 3}.50 €"} for i in range(10)],
    "total": "150.00 €",
}


def percentiles(samples: list[float]) -> str:
    """p50, p95 and p99 of samples in seconds, in milliseconds."""
    ordered = sorted(samples)
    pick = [ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 for q in (0.50, 0.95, 0.99)]
    return f"p50 {pick[0]:6.2f} ms  p95 {pick[1]:6.2f} ms  p99 {pick[2]:6.2f} ms"


def measure(rounds: int, run: Callable[[int], object]) -> list[float]:
    samples = []
    for index in range(rounds):
        started = time.perf_counter()
        run(index)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    renderer = Renderer()
    assert set(SOURCES) == set(TEMPLATE_FIELDS)
    loop = (
        asyncio.new_event_loop()
    )  # the preview compiles off the loop (a worker thread), as the console does

    def preview(sources: dict[str, str]) -> Any:
        return loop.run_until_complete(render_preview(renderer, sources, USER, DATA))

    first = preview(SOURCES)
    problems = {key: result.error for key, result in first.fields.items() if result.error}
    assert not problems, problems

    def opened(index: int) -> None:  # every field is new to the renderer's cache
        preview({k: f"{v} {{# {index} #}}" for k, v in SOURCES.items()})

    def keystroke(index: int) -> None:  # the HTML body is being typed; the rest is cached
        sources = {**SOURCES, "email_html_message": f"{SOURCES['email_html_message']} {index}"}
        preview(sources)

    def refresh(_index: int) -> None:
        preview(SOURCES)

    held = [
        renderer.compile(source, field=key, html=TEMPLATE_FIELDS[key][2]) for key, source in SOURCES.items()
    ]

    def bare(_index: int) -> None:
        for template in held:
            template.render(USER, DATA)

    results = {}
    for name, run in (("opened", opened), ("keystroke", keystroke), ("refresh", refresh), ("bare", bare)):
        measure(min(100, args.rounds), run)  # warm-up
        results[name] = measure(args.rounds, run)
    print(f"console preview, {len(SOURCES)} fields (every channel), {args.rounds} renders each:")
    print(f"  editor opened (all compiled): {percentiles(results['opened'])}")
    print(f"  keystroke (one field new):    {percentiles(results['keystroke'])}")
    print(f"  refresh (all cached):         {percentiles(results['refresh'])}")
    print(f"  baseline, bare renderer:      {percentiles(results['bare'])}")
    p95 = {name: sorted(samples)[int(len(samples) * 0.95)] * 1000 for name, samples in results.items()}
    bare_median = statistics.median(results["bare"]) * 1000
    print(
        f"p95 per keystroke = {p95['keystroke']:.2f} ms, when the editor opens = {p95['opened']:.2f} ms "
        f"(target ≤ 10 ms); bare renderer median {bare_median:.2f} ms"
    )


if __name__ == "__main__":
    main()
