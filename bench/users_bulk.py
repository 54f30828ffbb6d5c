"""Users per second through ``POST /users/bulk`` (streamed NDJSON), and the server's memory growth.

    .venv/bin/python -m bench.users_bulk [--count 100000] [--batch 1000] [--id-field fiscalCode]

The id field is ``_id`` unless ``--id-field`` maps another one: on the development database an upsert
by a field with a non-unique index scans the collection (~9 ms per user at 40k users), so a mapped id
field is only fast there with a unique index.

Starts the development database (memory backend), Redis and ``tidings api`` in a child process on a free
loopback port, as in production (API keys on: the bench creates one with the ``manage`` scope; the
secret key set), streams an NDJSON body generated on the fly with httpx, and reads the server's
``VmRSS``/``VmHWM`` from /proc, and the CPU per user of the API, the database, Redis and this process
(which generates and streams the body). The baseline is ``insert_many`` of the same documents straight
into the database with PyMongo, in batches of the same size, with its CPU per user.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from bench.mail_stack import ApiProcess, CpuMeter, create_api_key
from host.storage.devdb import DevDatabase
from tests.services import RedisServer
from tests.support.worker_processes import worker_environ

CONFIG: dict[str, Any] = {
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


def post_bulk(api: ApiProcess, count: int, key: str, pids: dict[str, int | None]) -> tuple[Any, float, str]:
    """POST /users/bulk of ``count`` users, streamed: (the answer's body, seconds, CPU per user)."""
    headers = {"content-type": "application/x-ndjson", "Authorization": f"Bearer {key}"}
    meter = CpuMeter(pids).start()
    started = time.perf_counter()
    response = httpx.post(f"{api.url}/users/bulk", content=ndjson(count), headers=headers, timeout=600)
    elapsed = time.perf_counter() - started
    meter.stop()
    assert response.status_code == 200, response.text
    return response.json(), elapsed, meter.summary(count, "user")


def through_api(environ: dict[str, str], database: DevDatabase, redis: RedisServer, count: int) -> None:
    with ApiProcess(environ) as api:
        assert api.pid is not None
        key = create_api_key(database.url, "bench", ["manage"])
        pids = {"API": api.pid, "database": database.pid, "Redis": redis.pid}
        before = memory_kb(api.pid)
        result, elapsed, cpu = post_bulk(api, count, key, pids)
        after = memory_kb(api.pid)
        print(
            f"POST /users/bulk, {count} users (NDJSON, streamed): {elapsed:.1f} s, "
            f"{count / elapsed:,.0f} users/s"
        )
        print(f"  {cpu}")
        print(
            f"  result: upserted {result['upserted']}, modified {result['modified']}, "
            f"failed {result['failed']}"
        )
        growth = (after["VmHWM"] - before["VmRSS"]) / 1024
        print(
            f"  server RSS: {before['VmRSS'] / 1024:.0f} MB before, peak {after['VmHWM'] / 1024:.0f} MB "
            f"(growth {growth:.0f} MB), {after['VmRSS'] / 1024:.0f} MB after"
        )
        again, elapsed, cpu = post_bulk(api, count, key, pids)
        peak = memory_kb(api.pid)["VmHWM"] / 1024
        print(
            f"  again (all {again['matched']} replaced in place): {elapsed:.1f} s, "
            f"{count / elapsed:,.0f} users/s,"
            f" server peak RSS {peak:.0f} MB; {cpu}"
        )


def baseline(database: DevDatabase, count: int, batch: int) -> None:
    with MongoClient[dict[str, Any]](database.url) as client:
        collection = client["bench"]["baseline_users"]
        if ID_FIELD != "_id":
            collection.create_index(ID_FIELD)
        meter = CpuMeter({"database": database.pid}).start()
        started = time.perf_counter()
        for start in range(0, count, batch):
            collection.insert_many([user(n) for n in range(start, min(count, start + batch))], ordered=False)
        elapsed = time.perf_counter() - started
        meter.stop()
        print(
            f"baseline insert_many (PyMongo, batches of {batch}): "
            f"{elapsed:.1f} s, {count / elapsed:,.0f} users/s; {meter.summary(count, 'user')}"
        )


def run(count: int, batch: int) -> None:
    redis = RedisServer().start()
    try:
        with DevDatabase() as database, tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "configuration.json"
            config.write_text(json.dumps({**CONFIG, "userFields": {**CONFIG["userFields"], "id": ID_FIELD}}))
            environ = worker_environ(
                config, database.url, "bench", redis.url, SMTP_HOST="127.0.0.1", SMTP_PORT="25"
            )  # tidings api needs a mail server for e-mail; the bench sends none
            through_api(environ, database, redis, count)
            baseline(database, count, batch)
    finally:
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--id-field", default="_id", help="the mapped user id field")
    args = parser.parse_args()
    global ID_FIELD  # a command-line choice, read by the record generator
    ID_FIELD = args.id_field
    run(args.count, args.batch)


if __name__ == "__main__":
    main()
