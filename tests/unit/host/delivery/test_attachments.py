"""Attached files' names made safe for a MIME header and any mail client's disk."""

from __future__ import annotations

from host.delivery.attachments import safe_filename


def test_attached_file_names_are_sanitised() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\x\\report.pdf") == "report.pdf"
    assert safe_filename("bad\r\nname\t.txt") == "badname.txt"
    assert safe_filename("..") == "attachment"
    assert safe_filename("dir/") == "attachment"
