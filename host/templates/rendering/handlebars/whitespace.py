"""Whitespace control, as handlebars.js' WhitespaceControl visitor applies it to the syntax tree.

``{{~x}}`` and ``{{x~}}`` strip all whitespace on that side; a block tag, ``{{else}}`` or a comment alone
on its line ("standalone") takes its line's indentation and line break with it.
"""

from __future__ import annotations

import re

from host.templates.rendering.handlebars.js_text import SPACE
from host.templates.rendering.handlebars.nodes import Block, Comment, Content, Mustache, Program, Statement

__all__ = ["apply_whitespace_control"]

_S = f"[{SPACE}]"
# JavaScript's $ (no m flag) is Python's \Z: Python's $ would also match before a final line break
_PREV_ROOT = re.compile(rf"(^|\r?\n){_S}*?\Z")
_PREV = re.compile(rf"\r?\n{_S}*?\Z")
_NEXT_ROOT = re.compile(rf"^{_S}*?(\r?\n|\Z)")
_NEXT = re.compile(rf"^{_S}*?\r?\n")
_RIGHT_ALL = re.compile(rf"^{_S}+")
_RIGHT_LINE = re.compile(r"^[ \t]*\r?\n?")
_LEFT_ALL = re.compile(rf"{_S}+\Z")
_LEFT_LINE = re.compile(r"[ \t]+\Z")


def _prev_whitespace(body: list[Statement], i: int | None, root: bool) -> bool:
    if i is None:
        i = len(body)
    prev = body[i - 1] if i - 1 >= 0 else None
    sibling = body[i - 2] if i - 2 >= 0 else None
    if prev is None:
        return root
    if isinstance(prev, Content):
        pattern = _PREV if (sibling is not None or not root) else _PREV_ROOT
        return pattern.search(prev.original) is not None
    return False


def _next_whitespace(body: list[Statement], i: int | None, root: bool) -> bool:
    if i is None:
        i = -1
    following = body[i + 1] if i + 1 < len(body) else None
    sibling = body[i + 2] if i + 2 < len(body) else None
    if following is None:
        return root
    if isinstance(following, Content):
        pattern = _NEXT if (sibling is not None or not root) else _NEXT_ROOT
        return pattern.search(following.original) is not None
    return False


def _omit_right(body: list[Statement], i: int | None, multiple: bool = False) -> None:
    index = 0 if i is None else i + 1
    current = body[index] if index < len(body) else None
    if not isinstance(current, Content) or (not multiple and current.right_stripped):
        return
    original = current.value
    current.value = (_RIGHT_ALL if multiple else _RIGHT_LINE).sub("", current.value, count=1)
    current.right_stripped = current.value != original


def _omit_left(body: list[Statement], i: int | None, multiple: bool = False) -> bool:
    index = len(body) - 1 if i is None else i - 1
    current = body[index] if 0 <= index < len(body) else None
    if not isinstance(current, Content) or (not multiple and current.left_stripped):
        return False
    original = current.value
    current.value = (_LEFT_ALL if multiple else _LEFT_LINE).sub("", current.value, count=1)
    current.left_stripped = current.value != original
    return current.left_stripped


class _Flags:
    __slots__ = ("close", "close_standalone", "inline_standalone", "open", "open_standalone")

    def __init__(
        self,
        open: bool = False,
        close: bool = False,
        open_standalone: bool = False,
        close_standalone: bool = False,
        inline_standalone: bool = False,
    ) -> None:
        self.open = open
        self.close = close
        self.open_standalone = open_standalone
        self.close_standalone = close_standalone
        self.inline_standalone = inline_standalone


class _Visitor:
    def __init__(self) -> None:
        self.root_seen = False

    def program(self, program: Program) -> None:
        root = not self.root_seen
        self.root_seen = True
        body = program.body
        for i, current in enumerate(body):
            flags = self.statement(current)
            if flags is None:
                continue
            prev_ws = _prev_whitespace(body, i, root)
            next_ws = _next_whitespace(body, i, root)
            open_standalone = flags.open_standalone and prev_ws
            close_standalone = flags.close_standalone and next_ws
            inline_standalone = flags.inline_standalone and prev_ws and next_ws
            if flags.close:
                _omit_right(body, i, True)
            if flags.open:
                _omit_left(body, i, True)
            if inline_standalone:
                _omit_right(body, i)
                _omit_left(body, i)
            if open_standalone and isinstance(current, Block):
                inner = current.program or current.inverse
                assert inner is not None
                _omit_right(inner.body, None)
                _omit_left(body, i)
            if close_standalone and isinstance(current, Block):
                _omit_right(body, i)
                inner = current.inverse or current.program
                assert inner is not None
                _omit_left(inner.body, None)

    def statement(self, node: Statement) -> _Flags | None:
        if isinstance(node, Block):
            return self.block(node)
        if isinstance(node, Mustache):
            return _Flags(open=node.strip.open, close=node.strip.close)
        if isinstance(node, Comment):
            return _Flags(open=node.strip.open, close=node.strip.close, inline_standalone=True)
        return None

    def block(self, block: Block) -> _Flags:
        if block.program is not None:
            self.program(block.program)
        if block.inverse is not None:
            self.program(block.inverse)
        program = block.program or block.inverse
        assert program is not None
        inverse = block.inverse if block.program is not None else None
        first_inverse = last_inverse = inverse
        if inverse is not None and inverse.chained:
            chained = inverse.body[0]
            assert isinstance(chained, Block) and chained.program is not None
            first_inverse = chained.program
            while last_inverse is not None and last_inverse.chained:
                link = last_inverse.body[-1]
                assert isinstance(link, Block)
                last_inverse = link.program
        close_strip = block.close_strip
        flags = _Flags(
            open=block.open_strip.open,
            close=bool(close_strip and close_strip.close),
            open_standalone=_next_whitespace(program.body, None, False),
            close_standalone=_prev_whitespace((first_inverse or program).body, None, False),
        )
        if block.open_strip.close:
            _omit_right(program.body, None, True)
        if inverse is not None and first_inverse is not None and last_inverse is not None:
            inverse_strip = block.inverse_strip
            if inverse_strip is not None and inverse_strip.open:
                _omit_left(program.body, None, True)
            if inverse_strip is not None and inverse_strip.close:
                _omit_right(first_inverse.body, None, True)
            if close_strip is not None and close_strip.open:
                _omit_left(last_inverse.body, None, True)
            if _prev_whitespace(program.body, None, False) and _next_whitespace(
                first_inverse.body, None, False
            ):
                _omit_left(program.body, None)
                _omit_right(first_inverse.body, None)
        elif close_strip is not None and close_strip.open:
            _omit_left(program.body, None, True)
        return flags


def apply_whitespace_control(program: Program) -> Program:
    """Strip the whitespace that ``~`` and standalone lines remove, in place; returns ``program``."""
    _Visitor().program(program)
    return program
