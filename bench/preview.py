"""Console preview: p95 time of ``POST /console/preview`` with every channel's fields, as the editor sends it.

    .venv/bin/python -m bench.preview [--rounds 500]

``tidings api`` (console included) in a child process against the development database and Redis; a
staff account logs in over HTTP (the login form's token, the password, the session cookie, the CSRF
token of the pages) and then posts the editor's form, as htmx does on each keystroke, for a template
filling all eight fields (e-mail subject, HTML and text, SMS, push title, subtitle and body, voice), in
three cases: the editor opened (every field compiled anew), a keystroke (one field changed, the others
taken from the renderer's cache) and a refresh (nothing changed). Timed per request at the client,
with the API process's CPU per preview. For context, in this process: ``render_preview`` (what the
endpoint calls after reading the form) and the bare renderer rendering the same fields from templates
held in hand. Target (issue 7): p95 ≤ 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from admin_ui.preview import TEMPLATE_FIELDS, render_preview
from admin_ui.staff import hash_password
from bench.mail_stack import ApiProcess, CpuMeter
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from host.templates.rendering import Renderer
from tests.services import RedisServer
from tests.support.worker_processes import worker_environ

CONFIG = {"activeChannels": ["email"], "sender": {"email": "noreply@tidings.test"}, "templateSyntax": "jinja"}
STAFF, PASSWORD = "bench@tidings.test", "a bench password, long enough"

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


def measure(rounds: int, run: Callable[[int], object], *, first: int = 0) -> list[float]:
    """Seconds of ``run(i)`` for ``rounds`` indexes from ``first``: a warm-up takes indexes the timed run
    does not, or the sources it compiled would be in the renderer's cache when timed."""
    samples = []
    for index in range(first, first + rounds):
        started = time.perf_counter()
        run(index)
        samples.append(time.perf_counter() - started)
    return samples


def logged_in(base: str) -> tuple[httpx.Client, str]:
    """A client holding a console session, and the CSRF token its pages carry."""
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token is not None, form.text
    answer = client.post(
        "/console/login",
        data={"email": STAFF, "password": PASSWORD, "login_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/console/templates").text)
    assert csrf is not None, "no CSRF token on the page"
    return client, csrf.group(1)


def over_http(rounds: int, api: ApiProcess, pids: dict[str, int | None]) -> None:
    client, csrf = logged_in(api.url)
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    data = json.dumps(DATA)

    def post(sources: dict[str, str]) -> None:
        answer = client.post("/console/preview", data={**sources, "data": data}, headers=headers)
        assert answer.status_code == 200 and 'class="error"' not in answer.text, answer.text[:500]

    cases: dict[str, Callable[[int], object]] = {
        "editor opened (all compiled)": lambda i: post(
            {k: f"{v} {{# http {i} #}}" for k, v in SOURCES.items()}
        ),
        "keystroke (one field new)": lambda i: post(
            {**SOURCES, "email_html_message": f"{SOURCES['email_html_message']} http {i}"}
        ),
        "refresh (all cached)": lambda _i: post(SOURCES),
    }
    print(f"POST /console/preview over HTTP, logged in, {len(SOURCES)} fields, {rounds} requests each:")
    for name, run in cases.items():
        measure(min(50, rounds), run, first=-10_000)  # warm-up, other sources
        meter = CpuMeter(pids).start()
        samples = measure(rounds, run)
        meter.stop()
        print(f"  {name:<30} {percentiles(samples)}   {meter.summary(rounds, 'preview')}")
    client.close()


def in_process(rounds: int) -> None:
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

    print(f"for context, in this process ({rounds} renders each):")
    for name, run in (
        ("render_preview, editor opened", opened),
        ("render_preview, keystroke", keystroke),
        ("render_preview, refresh", refresh),
        ("bare renderer", bare),
    ):
        measure(min(100, rounds), run, first=-10_000)  # warm-up, other sources
        print(f"  {name:<30} {percentiles(measure(rounds, run))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    redis = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, DevDatabase() as database:
            config = Path(tmp) / "configuration.json"
            config.write_text(json.dumps(CONFIG))
            # plain HTTP on loopback: the session cookie may not be Secure
            environ = worker_environ(
                config,
                database.url,
                "tidings_preview_bench",
                redis.url,
                CONSOLE_SECURE_COOKIES="false",
                SMTP_HOST="127.0.0.1",  # tidings api needs a mail server for e-mail; the bench sends none
                SMTP_PORT="25",
            )
            with MongoClient[dict[str, Any]](database.url) as mongo:
                mongo["tidings_preview_bench"]["staff"].insert_one(
                    {
                        "email": STAFF,
                        "password_hash": hash_password(PASSWORD),
                        "role": "admin",
                        "created_at": utcnow(),
                    }
                )
            with ApiProcess(environ) as api:
                pids = {"API": api.pid, "database": database.pid, "Redis": redis.pid}
                over_http(args.rounds, api, pids)
        in_process(args.rounds)
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
