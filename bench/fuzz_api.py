"""A long schemathesis run against a live Tidings API: counts of cases and answers by status.

    .venv/bin/python -m bench.fuzz_api [--examples 100]

Tidings on uvicorn (127.0.0.1), a dramatiq Worker on Redis in threads, the development database and an
SMTP sink; every operation of ``/schema/openapi.json`` gets ``--examples`` generated cases (hypothesis).
Prints the number of cases, the answers by status class, 5xx answers and error bodies outside the
``{statusCode, error, message}`` shape, each with a curl reproducer.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import dramatiq
import hypothesis
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from schemathesis.core.result import Err

from host.api.app import create_app
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer, free_port
from tests.support.configs import BASE_CONFIG, TEST_SECRET_KEY

ERROR_KEYS = {"statusCode", "error", "message"}


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def fuzz(base_url: str, examples: int) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # a part of the document schemathesis cannot read: said, not skipped
            raise result.err()
        operations.append(result.ok())
    started = time.perf_counter()
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=hypothesis.Verbosity.quiet,
        )
        def run(case: Any) -> None:
            response = case.call(timeout=60)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                problems.append(f"{response.status_code} {response.text[:200]}\n  {case.as_curl_command()}")
            elif response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict) or set(body) != ERROR_KEYS:
                    problems.append(f"shape {response.text[:200]}\n  {case.as_curl_command()}")

        run()
    elapsed = time.perf_counter() - started
    cases = sum(statuses.values())
    by_class = Counter(f"{status // 100}xx" for status in statuses.elements())
    print(f"{len(operations)} operations, {cases:,} cases in {elapsed:.0f} s ({cases / elapsed:.0f}/s)")
    print("answers by class:", dict(sorted(by_class.items())))
    print("answers by status:", dict(sorted(statuses.items())))
    print(f"problems (5xx or error bodies outside the shape): {len(problems)}")
    for problem in problems[:20]:
        print(" ", problem)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100, help="cases per operation")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=hypothesis.errors.HypothesisDeprecationWarning)
    redis = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, DevDatabase() as database, SmtpSink() as sink:
            path = Path(tmp) / "configuration.json"
            path.write_text(json.dumps(BASE_CONFIG))
            settings = load_settings(
                {
                    "CONFIGURATION_PATH": str(path),
                    "MONGODB_URL": database.url,
                    "MONGODB_DATABASE": "tidings_fuzz",
                    "REDIS_URL": redis.url,
                    "SMTP_HOST": sink.host,
                    "SMTP_PORT": str(sink.port),
                    "TIDINGS_AUTO_MIGRATE": "1",
                    "TIDINGS_SECRET_KEY": TEST_SECRET_KEY,  # as tidings worker requires: signed links
                    "TIDINGS_API_AUTH": "off",  # the figures are not about API keys
                }
            )
            broker = create_broker(settings.env.redis_url)
            dramatiq.set_broker(broker)
            actors = declare_actors(broker, settings, sweep_interval=None)
            worker = dramatiq.Worker(broker, worker_threads=4)
            worker.start()
            server, thread, url = serve(create_app(actors))
            try:
                fuzz(url, args.examples)
            finally:
                server.should_exit = True
                thread.join(timeout=30)
                worker.stop()
                broker.close()
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
