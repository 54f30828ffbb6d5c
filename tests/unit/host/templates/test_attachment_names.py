"""Attachment names: one file on the file service, never a dot segment or a path, however encoded."""

from __future__ import annotations

import pytest

from host.templates.attachment_names import attachment_name_problem


@pytest.mark.parametrize(
    "name", ["report.pdf", "a..b.pdf", "...", "100%.pdf", "résumé «final».txt", "%41.pdf"]
)
def test_file_names_pass(name: str) -> None:
    assert attachment_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", " .. ", "a/b", "a\\b", "%2e%2e", "%2F", "%5C", "%25252e%25252e", "x\x00", "\x1b[2J"],
)
def test_dot_segments_separators_and_control_characters_do_not(name: str) -> None:
    assert attachment_name_problem(name) is not None
