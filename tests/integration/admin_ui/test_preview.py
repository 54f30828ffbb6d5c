"""The console's live preview: template HTML kept in a sandboxed iframe, errors shown with their line."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.console import csrf_of, login


async def test_preview_keeps_template_html_in_a_sandboxed_iframe(
    console: AsyncTestClient[Litestar], staff_email: str
) -> None:
    await login(console, staff_email)
    token = csrf_of((await console.get("/console/templates")).text)
    html = "<p>Hello</p><script>window.parent.pwned = 1</script>"
    preview = await console.post(
        "/console/preview",
        data={"name": "x", "email_title": "T", "email_html_message": html, "data": "{}"},
        headers={"X-CSRF-Token": token},
    )
    iframe = re.search(r"<iframe[^>]*>", preview.text)
    assert iframe is not None
    assert " sandbox " in iframe.group(0) and "allow-scripts" not in iframe.group(0)
    assert "<script>" not in preview.text  # only escaped, inside srcdoc
    assert "script-src 'self'" in preview.headers["content-security-policy"]


async def test_preview_shows_errors_with_their_line(
    console: AsyncTestClient[Litestar], staff_email: str
) -> None:
    await login(console, staff_email)
    token = csrf_of((await console.get("/console/templates")).text)
    preview = await console.post(
        "/console/preview",
        data={"name": "x", "sms_message": "one\ntwo {% if %}", "data": "{"},
        headers={"X-CSRF-Token": token},
    )
    assert re.search(r'id="error-sms_message"[^>]*>line 2: ', preview.text), preview.text
    assert "sample data:" in preview.text
