"""Requests per second of ``POST /send`` (1 recipient, 2 channels) against a bare echo route of the same app.

    .venv/bin/python -m bench.api_send [--seconds 10] [--connections 50] [--rounds 3]

One uvicorn server (in a thread of this process) serves the Tidings app with an extra ``POST /echo``
route added through ``create_app(actors, extra_plugins=[...])``; ``wrk`` (Debian package) loads both in
the same run, alternating for ``--rounds`` rounds; the median ratio is printed (other processes share
the two cores). Behind /send: the development database and Redis. Target (issue 7): /send ≥ 30% of echo.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import uvicorn
from litestar import post
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from pymongo import MongoClient

from bench.mail_stack import free_port
from host.api.app import create_app
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from tests.services import RedisServer

CONFIG: dict[str, Any] = {
    "activeChannels": ["email", "sms"],
    "sender": {"email": "noreply@tidings.test", "sms": "+15005550006"},
    "userFields": {"id": "fiscalCode", "emailAddress": "mail", "phoneNumber": "phone", "clusters": "groups"},
}
BODY = {"recipients": ["U1"], "channels": ["email", "sms"], "messageTitle": "Hi", "messageContent": "Hello"}


@post("/echo", status_code=200)
async def echo(data: dict[str, Any]) -> dict[str, Any]:
    """The baseline: decode the JSON body and send it back."""
    return data


class EchoPlugin(InitPluginProtocol):
    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(echo)
        return app_config


def wrk(url: str, seconds: int, connections: int, script: Path) -> float:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        print(f"  {url}: {non2xx.group(1)} non-2xx answers")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of echo then send")
    args = parser.parse_args()
    redis = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, DevDatabase(max_heap="1g") as database:
            folder = Path(tmp)
            (folder / "configuration.json").write_text(json.dumps(CONFIG))
            settings = load_settings(
                {
                    "CONFIGURATION_PATH": str(folder / "configuration.json"),
                    "MONGODB_URL": database.url,
                    "MONGODB_DATABASE": "tidings_api_bench",
                    "REDIS_URL": redis.url,
                    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                    "TWILIO_AUTH_TOKEN": "fake-auth-token",
                    "TIDINGS_AUTO_MIGRATE": "1",
                    "TIDINGS_API_AUTH": "off",  # both routes alike: no key lookups
                }
            )
            with MongoClient(database.url) as mongo:
                mongo["tidings_api_bench"]["users"].insert_one(
                    {"fiscalCode": "U1", "mail": "u1@example.test", "phone": "+393331234567", "groups": []}
                )
            broker = create_broker(settings.env.redis_url)
            dramatiq.set_broker(broker)
            actors = declare_actors(broker, settings, sweep_interval=None)
            port = free_port()
            app = create_app(actors, extra_plugins=[EchoPlugin()])
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            base = f"http://127.0.0.1:{port}"
            check = httpx.post(f"{base}/send", json=BODY)
            assert check.status_code == 200, check.text
            script = folder / "post.lua"
            script.write_text(
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(json.dumps(BODY))}\n"
            )
            for path in ("/echo", "/send"):  # warm-up: the database's JIT, pools, caches
                wrk(f"{base}{path}", 2, args.connections, script)
            ratios = []
            for round_ in range(1, args.rounds + 1):
                echo_rate = wrk(f"{base}/echo", args.seconds, args.connections, script)
                send_rate = wrk(f"{base}/send", args.seconds, args.connections, script)
                ratios.append(send_rate / echo_rate)
                print(
                    f"round {round_}: POST /echo {echo_rate:,.0f} req/s; POST /send (1 recipient, "
                    f"2 channels) {send_rate:,.0f} req/s; send/echo = {send_rate / echo_rate:.0%}"
                )
            print(
                f"median send/echo over {len(ratios)} rounds = {statistics.median(ratios):.0%} (target ≥ 30%)"
            )
            server.should_exit = True
            thread.join(timeout=10)
            broker.close()
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
