"""Mia's saga scripts in QuickJS: compiled once, run with limits, no way out of the sandbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from host.dispatch.scripts import SagaScript, ScriptError
from host.errors import ConfigurationError
from host.settings import SagaScriptSource, ScriptLimits
from tests.support.mia_documents import MIA_GET_DATA_EXAMPLE, MIA_GET_TEMPLATE_ID_EXAMPLE

COMMAND: dict[str, Any] = {
    "key": "saga-1",
    "value": {"messageLabel": "sendReminder", "messagePayload": {"amount": 3.14159, "who": "Ada"}},
}


def script(source: str, name: str = "getTemplateId", **limits: Any) -> SagaScript:
    source_of = SagaScriptSource(
        key="flowManagerConfiguration.getTemplateIdFilePath", path="/cfg/s.js", source=source
    )
    return SagaScript(source_of, ScriptLimits(**limits), function_name=name)


async def test_mias_documented_examples_run_as_mia_shows_them() -> None:
    template_id, data = script(MIA_GET_TEMPLATE_ID_EXAMPLE), script(MIA_GET_DATA_EXAMPLE, "getData")
    try:
        assert await template_id.template_id(COMMAND) == "sendReminder"
        assert await data.data(COMMAND) == {
            "key": "saga-1",
            "value": {"messageLabel": "sendReminder", "messagePayload": {"amount": "3.14", "who": "Ada"}},
        }
    finally:
        template_id.close()
        data.close()


async def test_exports_object_with_the_named_function_is_accepted() -> None:
    found = script("exports.getTemplateId = (e) => 'tpl-' + e.key;")
    try:
        assert await found.template_id(COMMAND) == "tpl-saga-1"
    finally:
        found.close()


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("module.exports = function (e) { return e.key", "SyntaxError"),
        ("module.exports = 42", "module.exports is not a function"),
        ("throw new Error('no config')", "Error: no config"),
        ("const fs = require('fs'); module.exports = () => 'x'", "ReferenceError: 'require' is not defined"),
        ("import * as std from 'std'; module.exports = () => std.open('/etc/passwd')", "SyntaxError"),
        ("while (true) {}", "time limit"),
    ],
)
def test_a_broken_file_stops_start_up_naming_key_and_file(source: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        script(source, time_limit_seconds=0.2)
    assert caught.value.key == "flowManagerConfiguration.getTemplateIdFilePath"
    assert "/cfg/s.js" in str(caught.value) and reason in str(caught.value)
    assert "\n" not in str(caught.value)  # one line, no engine backtrace


def test_a_syntax_error_names_its_line() -> None:
    with pytest.raises(ConfigurationError, match=r"SyntaxError.*\(line 3\)"):
        script("module.exports = function (e) {\n  var a = 1;\n  return a +* 2;\n}")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            "throw new Error('label ' + e.value.messageLabel + ' unknown')",
            "Error: label sendReminder unknown",
        ),
        ("return 7", "returned a number, not a template id"),
        ("return ''", "returned an empty string"),
        ("return undefined", "returned undefined or null"),
        ("return {id: 'x'}", "returned an object, not a template id"),
        ("return fetch('http://127.0.0.1/')", "ReferenceError: 'fetch' is not defined"),
        ("return String(typeof std) + typeof os + typeof console", None),
    ],
)
async def test_a_run_that_fails_raises_script_error_naming_the_file(body: str, reason: str | None) -> None:
    found = script(f"module.exports = function (e) {{ {body} }}")
    try:
        if reason is None:  # no std, os or console module: the string is all "undefined"
            assert await found.template_id(COMMAND) == "undefined" * 3
            return
        with pytest.raises(ScriptError) as caught:
            await found.template_id(COMMAND)
        assert str(caught.value).startswith("flowManagerConfiguration.getTemplateIdFilePath (/cfg/s.js): ")
        assert reason in str(caught.value)
    finally:
        found.close()


async def test_a_loop_forever_is_cut_at_its_time_limit_and_the_script_still_works() -> None:
    found = script(
        "module.exports = function (e) { if (e.value.messagePayload.loop) { while (true) {} } return 'ok' }",
        time_limit_seconds=0.3,
    )
    looping = {**COMMAND, "value": {**COMMAND["value"], "messagePayload": {"loop": True}}}
    try:
        started = time.process_time()
        with pytest.raises(ScriptError, match=r"ran longer than its time limit \(0.3 s of CPU\)"):
            await found.template_id(looping)
        # QuickJS counts the process's CPU time: the run stopped once about 0.3 s of it was spent
        assert time.process_time() - started < 5
        assert await found.template_id(COMMAND) == "ok"  # the runtime survives the interruption
    finally:
        found.close()


async def test_the_memory_limit_stops_a_greedy_script() -> None:
    found = script(
        "module.exports = function () { var a = []; while (true) { a.push(new Array(100000).fill(7)) } }",
        memory_limit_megabytes=8,
        time_limit_seconds=5,
    )
    try:
        with pytest.raises(ScriptError, match=r"ran out of memory \(limit 8 MiB\)"):
            await found.template_id(COMMAND)
    finally:
        found.close()


async def test_runaway_recursion_is_an_error_not_a_crash() -> None:
    found = script("function f(n) { return f(n + 1) } module.exports = function () { return f(0) }")
    try:
        with pytest.raises(ScriptError, match="overflowed the engine's stack"):
            await found.template_id(COMMAND)
    finally:
        found.close()


async def test_runs_do_not_block_the_event_loop() -> None:
    found = script(
        "module.exports = function () { var t = Date.now(); while (Date.now() - t < 300) {} return 'x' }"
    )
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        assert await found.template_id(COMMAND) == "x"
        assert ticks >= 5  # the loop kept running while the engine spun in its own thread
    finally:
        ticker.cancel()
        found.close()
