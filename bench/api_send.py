"""Answers per second of ``POST /send`` (1 recipient, 2 channels) against a bare echo route of the same app.

    .venv/bin/python -m bench.api_send [--seconds 10] [--connections 50] [--rounds 3]
        [--servers uvicorn,uvicorn-h11,granian]

One uvicorn server in a child process (``--serve``: the Tidings app as ``tidings api`` builds it, API keys
on, plus a public ``POST /echo`` route added through ``create_app(actors, extra_plugins=[...])``) behind
which run the development database and Redis. ``wrk`` (Debian package) loads both routes in the same
run, alternating for ``--rounds`` rounds, with the same headers and body: /send checks the API key it
carries, as in production, while the echo route checks none (it is the floor of a request's cost, so the
key lookup counts against /send). Its Lua script counts the answers by status, and only 2xx answers
count towards a rate (a route answering errors fast is not fast). The median ratio of the rounds is
printed (other processes share the two cores), with the CPU per answer of the server, the database,
Redis, wrk and this process, and the API's CPU a /send over its CPU an echo (the rate ratio follows its
inverse while the API process limits both, and the machine's load moves it less). Target (issue 15):
/send ≥ 50% of echo. Before the rounds, /send is loaded again while the development database's JIT
compiler takes over 15% of its CPU (``warm_up_rounds``); every timed phase starts with the sends of the
phases before deleted and the database's heap collected (``jcmd GC.run``), as bench.fanout's do.

``--servers`` measures several ASGI servers in the same run, each its own API process on the same
database and Redis, taking turns within every round (the load on the machine changes during a run):
``uvicorn`` as ``tidings api`` runs it (uvicorn picks uvloop and httptools, which Tidings installs),
``uvicorn-h11`` (uvicorn on asyncio's loop and the pure-Python h11 parser, as before they were
installed) and ``granian`` (the Rust server, from the bench extra).

``--profile DIR`` samples each API process with py-spy (bench extra) during its first /send run and
writes ``DIR/<server>-send.txt`` (py-spy's raw format, ``--gil``: the Python time of the server's loop;
``--idle`` is not used). The sampling pauses the process, so the figures of that round are not
comparable: profile in a run of its own.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from litestar import post
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from pymongo import MongoClient

from bench.baselines import children_cpu_seconds
from bench.mail_stack import (
    CpuMeter,
    check_as_tidings_worker,
    collect_database_heap,
    create_api_key,
    free_port,
    warm_up_rounds,
)
from host.storage.devdb import DevDatabase
from tests.services import RedisServer
from tests.support.waiting import eventually_sync
from tests.support.worker_processes import worker_environ

CONFIG: dict[str, Any] = {
    "activeChannels": ["email", "sms"],
    "sender": {"email": "noreply@tidings.test", "sms": "+15005550006"},
    "userFields": {"id": "fiscalCode", "emailAddress": "mail", "phoneNumber": "phone", "clusters": "groups"},
}
BODY = {"recipients": ["U1"], "channels": ["email", "sms"], "messageTitle": "Hi", "messageContent": "Hello"}
DATABASE = "tidings_api_bench"
# every answer counted by status in each wrk thread, summed in done(): wrk's own report counts only
# "Non-2xx or 3xx responses", so 3xx and socket errors would pass for answers
_COUNTING = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; other = 0 end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); b = b + t:get("other") end
  io.write(string.format("answers-2xx %d\\nanswers-other %d\\nduration-us %d\\nerrors %d\\n", o, b,
    summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""


@post("/echo", status_code=200, opt={"public": True})
async def echo(data: dict[str, Any]) -> dict[str, Any]:
    """The baseline: decode the JSON body and send it back (no key check: the floor of a request's cost)."""
    return data


class EchoPlugin(InitPluginProtocol):
    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(echo)
        return app_config


def app_with_echo() -> Any:
    """Tidings' app from the environment (as host.api.server builds it) plus /echo (granian's factory)."""
    from host.api.app import create_app, settle_collector_after_startup
    from host.runtime.actors import declare_actors
    from host.runtime.broker import create_broker
    from host.runtime.logs import configure_logging
    from host.settings import load_settings

    settings = load_settings()
    configure_logging(settings.env)
    actors = declare_actors(create_broker(settings.env.redis_url), settings, sweep_interval=None)
    app = create_app(actors, extra_plugins=[EchoPlugin()])
    settle_collector_after_startup(app)  # as host.api.server does
    return app


def serve(port: int, server: str) -> None:
    """The child process of a uvicorn server: ``uvicorn`` chooses its loop and parser, as tidings api does."""
    import uvicorn

    fixed: dict[str, Any] = {"loop": "asyncio", "http": "h11"} if server == "uvicorn-h11" else {}
    uvicorn.run(app_with_echo(), host="127.0.0.1", port=port, log_level="warning", **fixed)


SERVERS = ("uvicorn", "uvicorn-h11", "granian")


def server_command(server: str, port: int) -> list[str]:
    """The command line of the API child process for ``server``."""
    if server == "granian":
        granian = str(Path(sys.executable).parent / "granian")
        return [granian, "--interface", "asgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "warning", "bench.api_send:app_with_echo"]  # fmt: skip
    return [sys.executable, "-m", "bench.api_send", "--serve", str(port), "--server", server]


def wrk(url: str, seconds: int, connections: int, script: Path) -> tuple[int, int, float, float]:
    """(2xx answers, other answers and socket errors, seconds, wrk's CPU seconds)."""
    before = children_cpu_seconds()
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts = dict(re.findall(r"^(answers-2xx|answers-other|duration-us|errors) (\d+)$", output, re.M))
    assert len(counts) == 4, output
    ok, other = int(counts["answers-2xx"]), int(counts["answers-other"]) + int(counts["errors"])
    return ok, other, int(counts["duration-us"]) / 1e6, children_cpu_seconds() - before


def measure(
    base: str,
    path: str,
    seconds: int,
    connections: int,
    script: Path,
    pids: dict[str, int | None],
    profile: Path | None = None,
) -> tuple[float, str, float]:
    """One wrk run against ``path``: 2xx answers per second, CPU per answer by process group, and the API
    process's µs of CPU per answer; with ``profile``, py-spy samples the API process meanwhile."""
    spy = None
    if profile is not None:
        py_spy = str(Path(sys.executable).parent / "py-spy")
        command = [py_spy, "record", "-p", str(pids["API"]), "--gil", "--subprocesses", "--nonblocking"]
        command += ["-r", "400", "-f", "raw", "-o", str(profile)]
        spy = subprocess.Popen([*command, "-d", str(seconds)], stdout=subprocess.DEVNULL)
    meter = CpuMeter(pids).start()
    ok, other, elapsed, wrk_cpu = wrk(f"{base}{path}", seconds, connections, script)
    meter.stop()
    if spy is not None:
        spy.wait(timeout=30)
    meter.add("wrk", wrk_cpu)
    failed = f"; {other:,} answers not 2xx or errors, not counted" if other else ""
    api_cpu = meter.per_message(max(ok, 1)).get("API", 0.0)
    return ok / elapsed, f"{meter.summary(max(ok, 1), '2xx answer')}{failed}", api_cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of echo then send")
    parser.add_argument(
        "--api-auth", choices=("on", "off"), default="on", help="API key checks (on, as in production)"
    )
    parser.add_argument(
        "--servers", default="uvicorn", help=f"ASGI servers to measure in turn, comma-separated: {SERVERS}"
    )
    parser.add_argument("--profile", type=Path, help="py-spy each API during its first /send run, into DIR")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server", default="uvicorn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.server)
        return
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = sorted(set(servers) - set(SERVERS))
    if unknown:
        parser.error(f"--servers: unknown {unknown[0]!r} (known: {', '.join(SERVERS)})")
    redis = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, DevDatabase(max_heap="1g") as database:
            folder = Path(tmp)
            (folder / "configuration.json").write_text(json.dumps(CONFIG))
            environ = worker_environ(
                folder / "configuration.json",
                database.url,
                DATABASE,
                redis.url,
                TWILIO_ACCOUNT_SID="AC" + "0" * 32,
                TWILIO_AUTH_TOKEN="fake-auth-token",
                TIDINGS_API_AUTH=args.api_auth,
                SMTP_HOST="127.0.0.1",  # no mail is sent (no worker runs): what tidings worker needs
                SMTP_PORT="25",
            )
            check_as_tidings_worker(environ)
            with MongoClient[dict[str, Any]](database.url) as mongo:
                mongo[DATABASE]["users"].insert_one(
                    {"fiscalCode": "U1", "mail": "u1@example.test", "phone": "+393331234567", "groups": []}
                )
            key = create_api_key(database.url, DATABASE, ["send"])
            script = folder / "post.lua"
            script.write_text(
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.headers["Authorization"] = "Bearer {key}"\n'
                f"wrk.body = {json.dumps(json.dumps(BODY))}\n{_COUNTING}"
            )
            pids = {"database": database.pid, "Redis": redis.pid}

            def fresh() -> None:
                """Every timed phase on the same database: the sends of the phases before deleted and its
                heap collected (they are live data to the development database's Java heap: after ~100,000
                sends its collector took 312-1,112 µs a /send of a late round, against ~50)."""
                with MongoClient[dict[str, Any]](database.url) as mongo:
                    for collection in ("dispatches", "deliveries"):
                        mongo[DATABASE][collection].delete_many({})
                collect_database_heap(database.pid)

            run_servers(servers, {**os.environ, **environ}, key, script, pids, args, fresh)
    finally:
        redis.stop()


def start_servers(
    names: list[str], environ: dict[str, str]
) -> dict[str, tuple[subprocess.Popen[bytes], str]]:
    """Every server as its own API process, each on a free port: name → (process, base URL)."""
    started = {}
    for name in names:
        port = free_port()
        started[name] = (
            subprocess.Popen(server_command(name, port), env=environ),
            f"http://127.0.0.1:{port}",
        )
    return started


def run_servers(
    names: list[str],
    environ: dict[str, str],
    key: str,
    script: Path,
    pids: dict[str, int | None],
    args: Any,
    fresh: Callable[[], None],
) -> None:
    """Measure both routes on every server, the servers taking turns within each round (the load on the
    machine changes over a run: no server gets all the quiet minutes); a median per server at the end."""
    started = start_servers(names, environ)
    try:
        for name, (server, base) in started.items():
            eventually_sync(
                functools.partial(_ready, base, server), timeout=120, interval=0.1, what=f"the API ({name})"
            )
            check = httpx.post(f"{base}/send", json=BODY, headers={"Authorization": f"Bearer {key}"})
            assert check.status_code == 200, check.text
            for path in ("/echo", "/send"):  # warm-up: the database's JIT, pools, caches
                wrk(f"{base}{path}", 2, args.connections, script)
            for _ in warm_up_rounds(pids.get("database"), "/send"):  # the database's JIT settled
                wrk(f"{base}/send", 2, args.connections, script)
        ratios: dict[str, list[float]] = {name: [] for name in names}
        sends: dict[str, list[float]] = {name: [] for name in names}
        # the API's CPU per /send over its CPU per echo: what the rate ratio follows (1 / this, when the
        # API process is what limits both), and which the machine's load moves much less
        costs: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(1, args.rounds + 1):
            for name, (server, base) in started.items():
                meter_pids = {"API": server.pid, **pids}
                fresh()
                echo_rate, echo_cpu, echo_api = measure(
                    base, "/echo", args.seconds, args.connections, script, meter_pids
                )
                profile = None
                if args.profile is not None and round_ == 1:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    profile = args.profile / f"{name}-send.txt"
                fresh()
                send_rate, send_cpu, send_api = measure(
                    base, "/send", args.seconds, args.connections, script, meter_pids, profile
                )
                ratios[name].append(send_rate / echo_rate)
                sends[name].append(send_rate)
                costs[name].append(send_api / max(echo_api, 1e-9))
                print(
                    f"round {round_}, {name}: POST /echo {echo_rate:,.0f} 2xx/s; POST /send (1 recipient, "
                    f"2 channels) {send_rate:,.0f} 2xx/s; send/echo = {send_rate / echo_rate:.0%}"
                    f"; API CPU a /send {costs[name][-1]:.2f}× an echo's"
                    f" (load average {os.getloadavg()[0]:.1f})"
                )
                print(f"  /echo: {echo_cpu}")
                print(f"  /send: {send_cpu}")
        for name in names:
            print(
                f"{name}: median send/echo over {args.rounds} rounds = {statistics.median(ratios[name]):.0%} "
                f"(target ≥ 50%); /send {statistics.median(sends[name]):,.0f} 2xx/s; API CPU a /send "
                f"{statistics.median(costs[name]):.2f}× an echo's (2× or less for 50%)"
            )
    finally:
        for server, _ in started.values():
            server.terminate()
        for server, _ in started.values():
            server.wait(timeout=20)


def _ready(base: str, server: subprocess.Popen[bytes]) -> bool:
    if server.poll() is not None:
        raise RuntimeError(f"the API process exited with code {server.returncode}")
    try:
        return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
