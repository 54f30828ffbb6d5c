"""JSON log lines: one object per line, the context's ids (dispatch, channel, delivery) as fields."""

from __future__ import annotations

import json
import logging

from host.runtime.logs import JsonFormatter, log_context


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
