"""Users per second through ``POST /users/bulk`` (streamed NDJSON), and the server's memory growth.

    .venv/bin/python -m bench.users_bulk [--count 100000] [--batch 1000] [--id-field fiscalCode]

The id field is ``_id`` unless ``--id-field`` maps another one: on the development database an upsert
by a field with a non-unique index scans the collection (~9 ms per user at 40k users), so a mapped id
field is only fast there with a unique index.

Starts the development database (memory backend) and the API under uvicorn in a child process on a
free loopback port, streams an NDJSON body generated on the fly with httpx, and reads the server's
``VmRSS``/``VmHWM`` from /proc. The baseline is ``insert_many`` of the same documents straight into the
database with PyMongo, in batches of the same size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from host.storage.devdb import DevDatabase
from tests.services import free_port

CONFIG = {
    "activeChannels": ["email"],
    "sender": {"email": "bench@localhost"},
    "userFields": {"emailAddress": "mail", "clusters": "groups"},
}


ID_FIELD = "_id"


def user(n: int) -> dict[str, Any]:
    return {
        ID_FIELD: f"U{n:07}",
        "mail": f"user{n}@example.org",
        "phoneNumber": f"+39333{n:07}",
        "groups": ["all", f"g{n % 50}"],
        "name": f"User {n}",
        "locale": "it-IT",
    }


def ndjson(count: int, lines_per_chunk: int = 200) -> Iterator[bytes]:
    for start in range(0, count, lines_per_chunk):
        end = min(count, start + lines_per_chunk)
        yield b"".join(json.dumps(user(n)).encode() + b"\n" for n in range(start, end))


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def serve(port: int) -> None:
    """The child process: the Tidings API on the environment's settings, with an in-process broker."""
    import uvicorn

    from host.api.app import create_app
    from host.runtime.actors import declare_actors
    from host.runtime.broker import create_broker
    from host.settings import load_settings

    actors = declare_actors(create_broker(None), load_settings(), sweep_interval=None)
    uvicorn.run(create_app(actors), host="127.0.0.1", port=port, log_level="warning")


def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the API process exited")
        try:
            if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the API did not become ready")


def run(count: int, batch: int) -> None:
    with DevDatabase() as database, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "configuration.json"
        config.write_text(json.dumps({**CONFIG, "userFields": {**CONFIG["userFields"], "id": ID_FIELD}}))
        env = {
            **os.environ,
            "CONFIGURATION_PATH": str(config),
            "MONGODB_URL": database.url,
            "MONGODB_DATABASE": "bench",
            "TIDINGS_AUTO_MIGRATE": "1",
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = subprocess.Popen([sys.executable, "-m", "bench.users_bulk", "--serve", str(port)], env=env)
        try:
            wait_ready(base, process)
            before = memory_kb(process.pid)
            started = time.perf_counter()
            response = httpx.post(
                f"{base}/users/bulk",
                content=ndjson(count),
                headers={"content-type": "application/x-ndjson"},
                timeout=600,
            )
            elapsed = time.perf_counter() - started
            after = memory_kb(process.pid)
            result = response.json()
            print(
                f"POST /users/bulk, {count} users (NDJSON, streamed): "
                f"{elapsed:.1f} s, {count / elapsed:,.0f} users/s"
            )
            print(
                f"  result: upserted {result['upserted']}, modified {result['modified']}, "
                f"failed {result['failed']}"
            )
            print(
                f"  server RSS: {before['VmRSS'] / 1024:.0f} MB before, peak {after['VmHWM'] / 1024:.0f} MB "
                f"(growth {(after['VmHWM'] - before['VmRSS']) / 1024:.0f} MB), "
                f"{after['VmRSS'] / 1024:.0f} MB after"
            )
            started = time.perf_counter()
            again = httpx.post(
                f"{base}/users/bulk",
                content=ndjson(count),
                headers={"content-type": "application/x-ndjson"},
                timeout=600,
            ).json()
            elapsed = time.perf_counter() - started
            print(
                f"  again (all {again['matched']} replaced in place): "
                f"{elapsed:.1f} s, {count / elapsed:,.0f} users/s,"
                f" server peak RSS {memory_kb(process.pid)['VmHWM'] / 1024:.0f} MB"
            )
        finally:
            process.terminate()
            process.wait(timeout=10)

        with MongoClient(database.url) as client:
            collection = client["bench"]["baseline_users"]
            if ID_FIELD != "_id":
                collection.create_index(ID_FIELD)
            started = time.perf_counter()
            for start in range(0, count, batch):
                collection.insert_many(
                    [user(n) for n in range(start, min(count, start + batch))], ordered=False
                )
            elapsed = time.perf_counter() - started
            print(
                f"baseline insert_many (PyMongo, batches of {batch}): "
                f"{elapsed:.1f} s, {count / elapsed:,.0f} users/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--id-field", default="_id", help="the mapped user id field")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global ID_FIELD  # a command-line choice, read by the record generator
    ID_FIELD = args.id_field
    if args.serve:
        serve(args.serve)
    else:
        run(args.count, args.batch)


if __name__ == "__main__":
    main()
