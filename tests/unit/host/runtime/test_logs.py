"""Log lines: one record per line (a client's CR/LF or other controls escaped), JSON with the context ids.

The process tests run ``configure_logging`` in a fresh interpreter, as the ``tidings`` commands do, and
read what it writes to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

from host.runtime.logs import JsonFormatter, TextFormatter, escape_controls, log_context

FORGED = "1999-12-31 23:59:59,000 INFO host.api: admin logged in"
SCRIPT = textwrap.dedent(
    """
    import logging
    from host.runtime.logs import configure_logging
    configure_logging()
    log = logging.getLogger("host.test")
    log.warning("saga %s refused", "k1\\n" + {forged!r})
    log.warning("key=%r", "k2\\r\\n" + {forged!r})
    try:
        raise ValueError("bad key\\n" + {forged!r})
    except ValueError:
        log.exception("failed for %s", "k3\\u2028" + {forged!r})
    """
).format(forged=FORGED)


def run_logging(log_format: str) -> list[str]:
    environ = {**os.environ, "TIDINGS_LOG_FORMAT": log_format, "TIDINGS_LOG_LEVEL": "INFO"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=environ, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stderr.splitlines()


def test_a_text_line_cannot_be_forged() -> None:
    lines = run_logging("text")
    assert [line for line in lines if line.startswith("1999-12-31")] == [], lines
    assert any(line.endswith(f"saga k1\\n{FORGED} refused") for line in lines), lines
    assert any(f"key='k2\\r\\n{FORGED}'" in line for line in lines), lines
    assert any(line.endswith(f"failed for k3\\u2028{FORGED}") for line in lines), lines
    traceback = lines[lines.index(next(line for line in lines if "failed for" in line)) + 1 :]
    assert traceback and all(line.startswith("    ") for line in traceback), traceback  # indented


def test_a_json_line_is_one_object() -> None:
    records = [json.loads(line) for line in run_logging("json")]
    assert [r["message"] for r in records] == [
        f"saga k1\n{FORGED} refused",
        f"key='k2\\r\\n{FORGED}'",
        f"failed for k3\u2028{FORGED}",
    ]
    assert "ValueError: bad key" in records[2]["exception"]


def test_the_formatter_leaves_the_record_as_it_was() -> None:
    record = logging.LogRecord(
        "host.x", logging.INFO, __file__, 1, "key %s at %s", ("a\nb", "http://u:p@h/?t=1"), None
    )
    assert TextFormatter().format(record).endswith("key a\\nb at http://***@h/?t=***")
    assert record.getMessage() == "key a\nb at http://u:p@h/?t=1"
    assert escape_controls("\x1b[2J\x00\x85") == "\\x1b[2J\\x00\\x85"


def test_json_lines_carry_the_context_ids_as_fields() -> None:
    record = logging.LogRecord(
        "host.delivery.worker", logging.INFO, __file__, 1, "delivery %s failed", ("d1",), None
    )
    with log_context(dispatch_id="disp-1", channel="email"):
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "delivery d1 failed"
    assert (line["level"], line["logger"]) == ("INFO", "host.delivery.worker")
    assert (line["dispatch_id"], line["channel"]) == ("disp-1", "email")
    record.delivery_id = "disp-1:email:u1"
    assert json.loads(JsonFormatter().format(record))["delivery_id"] == "disp-1:email:u1"
