"""``/-/healthz`` latency while requests with heavy templates are in flight (issue 16, point 1).

    .venv/bin/python -m bench.compile_budget [--seconds 10] [--attackers 4]

``tidings api`` runs as a child process (the development database and Redis beside it, API keys off);
a prober in this process GETs ``/-/healthz`` every 10 ms and records each answer's latency, while the
attackers run in a process of their own (so their work is not in the prober's latency), in four phases
of ``--seconds`` each:

- **idle**: nothing else in flight (the baseline);
- **probe**: ``--attackers`` clients post, back to back, the probe's ``/send`` (title and content
  ``"{{a.b.c.d}}" * 23000``); before the compile budget each spent ~4 s of CPU compiling on the event
  loop and ``/-/healthz`` waited 4.0 s; now each is a 400 naming the field;
- **within budget, Handlebars**: the attackers post ``/send`` whose content has 1,000 tags (the budget's
  limit), each one different, so every request compiles (in a worker thread) and none hits the cache;
- **within budget, Jinja**: the same through ``POST /templates`` (syntax ``jinja``; the 400 for a taken
  name comes after the compile, so every request compiles).

Printed: healthz p50/p99/max per phase, and the attackers' answers (status counts, median latency).
For scale, the probe's template is also compiled here with the budget lifted: what one request used
to hold the event loop for. Target (issue 16): healthz p99 under 50 ms in every phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.mail_stack import free_port
from host.storage.devdb import DevDatabase
from host.templates.rendering import Renderer
from host.templates.rendering.budget import RenderLimits
from tests.services import RedisServer

PROBE = "{{a.b.c.d}}" * 23000
SEND = {"channels": ["email"], "recipients": ["nobody"], "messageTitle": "Hi"}
TAGS = 1000


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def probe_health(base: str, stop: asyncio.Event) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            answer = await client.get("/-/healthz")
            latencies.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
            await asyncio.sleep(0.01)
    return latencies


async def attack(base: str, stop: asyncio.Event, body_of: Any, seen: Counter[int], took: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        count = 0
        while not stop.is_set():
            path, body = body_of(count)
            count += 1
            started = time.perf_counter()
            answer = await client.post(path, json=body)
            took.append(time.perf_counter() - started)
            seen[answer.status_code] += 1


def phase_bodies(name: str, attacker: int) -> Any:
    def probe(_count: int) -> tuple[str, dict[str, Any]]:
        return "/send", {**SEND, "messageContent": PROBE, "messageTitle": PROBE}

    def handlebars(count: int) -> tuple[str, dict[str, Any]]:
        unique = f"a{attacker}x{count}"  # a different source each time: no cache hit
        return "/send", {**SEND, "messageContent": f"{{{{{unique}.b}}}}" + "{{a.b.c.d}}" * (TAGS - 1)}

    def jinja(count: int) -> tuple[str, dict[str, Any]]:
        unique = f"a{attacker}x{count}"
        body = "{{ " + unique + ".b }}" + "{{ a.b.c.d }}" * (TAGS - 1)
        return "/templates", {"name": "taken", "syntax": "jinja", "emailTitle": "t", "emailMessage": body}

    return {"probe": probe, "handlebars": handlebars, "jinja": jinja}.get(name)


def attackers_process(base: str, name: str, seconds: float, attackers: int, results: Any) -> None:
    """The attackers, in a process of their own: the prober's latency is the server's, not theirs."""

    async def run() -> None:
        stop = asyncio.Event()
        seen: Counter[int] = Counter()
        took: list[float] = []
        tasks = [
            asyncio.create_task(attack(base, stop, phase_bodies(name, index), seen, took))
            for index in range(attackers)
        ]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        results.put((dict(seen), took))

    asyncio.run(run())


async def probe_for(base: str, seconds: float) -> list[float]:
    stop = asyncio.Event()
    prober = asyncio.create_task(probe_health(base, stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await prober


def run_phase(base: str, name: str, seconds: float, attackers: int) -> None:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = None
    if name != "idle":
        process = context.Process(target=attackers_process, args=(base, name, seconds, attackers, results))
        process.start()
        time.sleep(1.0)  # the attackers' interpreter starts: measure while they are at it
    health = asyncio.run(probe_for(base, seconds - 1.0 if process else seconds))
    figures = "  ".join(
        f"{label} {percentile(health, q) * 1000:6.1f} ms" for label, q in (("p50", 0.5), ("p99", 0.99))
    )
    line = f"{name:>10}: healthz {figures}  max {max(health) * 1000:6.1f} ms ({len(health)} probes)"
    if process is not None:
        seen, took = results.get(timeout=300)
        process.join(timeout=60)
        answers = ", ".join(f"{status}: {count}" for status, count in sorted(seen.items()))
        line += f"; attackers {answers}, median {statistics.median(took) * 1000:.0f} ms"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--attackers", type=int, default=4)
    args = parser.parse_args()
    unbounded = Renderer(limits=RenderLimits(max_tags=10**9, compile_seconds=10**9))
    started = time.thread_time()
    unbounded.compile(PROBE, field="messageContent", syntax="handlebars")
    unbounded.compile(PROBE, field="emailMessage", syntax="jinja")
    print(f"the probe's template without a budget: {time.thread_time() - started:.1f} s of CPU to compile")
    redis = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, DevDatabase() as database:
            config = Path(tmp) / "configuration.json"
            config.write_text(json.dumps({"activeChannels": ["email"], "sender": {"email": "a@b.test"}}))
            port = free_port()
            env = {
                **os.environ,
                "CONFIGURATION_PATH": str(config),
                "MONGODB_URL": database.url,
                "MONGODB_DATABASE": "tidings_compile_bench",
                "REDIS_URL": redis.url,
                "TIDINGS_SECRET_KEY": "bench-secret-key-0123456789",
                "SMTP_HOST": "127.0.0.1",  # e-mail is active: tidings api needs a server (none is sent to)
                "SMTP_PORT": "25",
                "TIDINGS_API_AUTH": "off",
                "TIDINGS_AUTO_MIGRATE": "1",
                "TIDINGS_LOG_LEVEL": "WARNING",
            }
            api = subprocess.Popen(
                [sys.executable, "-m", "host.cli.main", "api", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if httpx.get(f"{base}/-/healthz", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline or api.poll() is not None:
                        raise SystemExit("tidings api did not start")
                    time.sleep(0.1)
                taken = {"name": "taken", "syntax": "jinja", "emailTitle": "t", "emailMessage": "m"}
                assert httpx.post(f"{base}/templates", json=taken).status_code == 201
                print(f"tidings api at {base}; {args.attackers} attackers; {args.seconds:g} s per phase")
                for name in ("idle", "probe", "handlebars", "jinja"):
                    run_phase(base, name, args.seconds, args.attackers)
            finally:
                api.terminate()
                api.wait(timeout=30)
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
