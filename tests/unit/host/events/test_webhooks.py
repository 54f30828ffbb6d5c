"""The README's receiver check against Tidings' signatures: the copy the tests run is the README's text,
it accepts a fresh signature, and refuses a stale timestamp, another body and another secret."""

from __future__ import annotations

import re
import time

from host.events.webhooks import signature_header
from tests.support.paths import ROOT
from tests.support.readme_webhook_verifier import verify

SECRET = b"whsec-unit-0123456789"
BODY = b'{"id":"d1:sent","type":"delivery.sent","createdAt":"2026-12-01T08:00:00Z","data":{}}'
_COPY = re.compile(r"# --- README snippet ---\n(.*)# --- end of README snippet ---\n", re.S)


def readme_snippet() -> str:
    """The Python code block of the README's "Delivery events" section (the one that defines verify)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Delivery events") :]
    blocks = re.findall(r"^```python\n(.*?)^```$", section, re.S | re.M)
    [snippet] = [block for block in blocks if "def verify(" in block]
    return snippet


def test_the_copy_is_the_readme_text() -> None:
    copy = _COPY.search((ROOT / "tests/support/readme_webhook_verifier.py").read_text())
    assert copy is not None
    assert copy.group(1) == readme_snippet()


def test_the_readme_check_accepts_a_fresh_signature_of_tidings() -> None:
    assert verify(SECRET, signature_header(SECRET, BODY), BODY)


def test_the_readme_check_refuses_a_stale_timestamp() -> None:
    now = int(time.time())
    assert verify(SECRET, signature_header(SECRET, BODY, timestamp=now - 290), BODY)  # inside 5 min
    assert not verify(SECRET, signature_header(SECRET, BODY, timestamp=now - 310), BODY)  # replayed late
    assert not verify(SECRET, signature_header(SECRET, BODY, timestamp=now + 310), BODY)  # from the future


def test_the_readme_check_refuses_another_body_or_secret() -> None:
    header = signature_header(SECRET, BODY)
    assert not verify(SECRET, header, BODY.replace(b"sent", b"failed"))
    assert not verify(b"another-secret", header, BODY)
