"""Mia's saga scripts (``getTemplateId``, ``getData``) run in QuickJS, sandboxed, with time and memory limits.

Mia loads these files as Node modules (``module.exports = function getTemplateId(event) {...}``). Here each
file gets its own QuickJS runtime (the ``quickjs`` package), which has no ``require``, no modules, no
network, no files, no timers and no way out to Python: a script sees only its argument and ECMAScript's
built-ins. A file is evaluated once, at start-up, after ``module`` and ``exports`` are defined; a syntax
error, a top-level throw, or a ``module.exports`` that is not a function stops start-up naming the key
and the file. Each run converts its argument to JS through JSON and its result back through JSON.

Limits: CPU time per run (QuickJS's interrupt handler compares the process's CPU clock, ``clock()``, so a
busy process reaches it sooner and a starved one later in wall time), heap size per runtime, and the
engine's stack. A QuickJS runtime must be used from one thread only, so each script owns a one-thread
executor; runs queue there, and the event loop never waits on the engine.
"""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import quickjs

from host.errors import ConfigurationError, TidingsError
from host.settings import SagaScriptSource, ScriptLimits

__all__ = ["SagaScript", "ScriptError"]

#: the engine's own stack: deep enough for real code, far below the thread's
_STACK_BYTES = 512 * 1024
_PRELUDE = "var module = { exports: {} }; var exports = module.exports;"
_LINE = re.compile(r"<input>:(\d+)")


class ScriptError(TidingsError):
    """A run of a saga script failed; the message names the configuration key and the file."""

    def __init__(self, script: SagaScript, reason: str) -> None:
        super().__init__(f"{script.key} ({script.path}): {reason}")
        self.reason = reason


def _describe(exc: Exception, limits: ScriptLimits) -> str:
    """One line for an engine error: its first line, the line number, or which limit was reached."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if isinstance(exc, quickjs.StackOverflow):
        return "overflowed the engine's stack (runaway recursion?)"
    if first == "InternalError: interrupted":
        return f"ran longer than its time limit ({limits.time_limit_seconds:g} s of CPU) and was stopped"
    if first == "InternalError: out of memory":
        return f"ran out of memory (limit {limits.memory_limit_megabytes} MiB)"
    line = _LINE.search(text)
    return f"{first} (line {line.group(1)})" if line and first.startswith("SyntaxError") else first


def _kind(value: Any) -> str:
    if value is None:
        return "undefined or null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class SagaScript:
    """One script file, compiled once in its own QuickJS runtime; :meth:`run` calls its function."""

    def __init__(self, script: SagaScriptSource, limits: ScriptLimits, *, function_name: str) -> None:
        self.key = script.key
        self.path = script.path
        self.limits = limits
        self._name = function_name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"js-{function_name}")
        try:
            self._context, self._function = self._executor.submit(self._compile, script.source).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    def _compile(self, source: str) -> tuple[Any, Any]:
        context = quickjs.Context()
        context.set_memory_limit(self.limits.memory_limit_megabytes * 1024 * 1024)
        context.set_time_limit(self.limits.time_limit_seconds)
        context.set_max_stack_size(_STACK_BYTES)
        try:
            context.eval(_PRELUDE)
            context.eval(source)
            exported = context.eval("module.exports")
            if not _is_function(context, "module.exports"):
                # Mia documents `module.exports = function ...`; `exports.getData = ...` is accepted too
                if _is_function(context, f"module.exports[{json.dumps(self._name)}]"):
                    exported = context.eval(f"module.exports[{json.dumps(self._name)}]")
                else:
                    raise ConfigurationError(
                        self.key, f"{self.path}: module.exports is not a function ({self._name}(event))"
                    )
        except quickjs.JSException as exc:
            raise ConfigurationError(self.key, f"{self.path}: {_describe(exc, self.limits)}") from None
        return context, exported

    def _call(self, argument_json: str) -> Any:
        try:
            result = self._function(self._context.parse_json(argument_json))
            if isinstance(result, quickjs.Object):
                text = result.json()
                try:
                    result = json.loads(text)
                except (TypeError, ValueError):
                    raise ScriptError(self, "returned a value JSON cannot hold (a function?)") from None
            return result
        except quickjs.JSException as exc:
            raise ScriptError(self, _describe(exc, self.limits)) from None
        finally:
            self._context.gc()  # a run's cycles are freed before the next, so the heap limit is per run

    async def run(self, argument: Any) -> Any:
        """Call the script's function with ``argument`` (JSON-like); ScriptError if it throws or overruns."""
        payload = json.dumps(argument, ensure_ascii=False, default=str)
        return await asyncio.wrap_future(self._executor.submit(self._call, payload))

    async def template_id(self, command: Any) -> str:
        """``getTemplateId(command)``: a non-empty string, else ScriptError saying what came back."""
        value = await self.run(command)
        if not isinstance(value, str) or not value.strip():
            got = "an empty string" if isinstance(value, str) else _kind(value)
            raise ScriptError(self, f"returned {got}, not a template id (a string)")
        return value.strip()

    async def data(self, command: Any) -> dict[str, Any]:
        """``getData(command)``: an object, else ScriptError saying what came back."""
        value = await self.run(command)
        if not isinstance(value, dict):
            raise ScriptError(self, f"returned {_kind(value)}, not an object")
        return value

    def close(self) -> None:
        """Stop the script's thread (its runtime is freed with it)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _is_function(context: Any, expression: str) -> bool:
    return bool(context.eval(f"typeof ({expression}) === 'function'"))
