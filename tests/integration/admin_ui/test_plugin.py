"""The console in real Chromium (Debian's), against Tidings served by uvicorn with a worker process.

`tidings api` and `tidings worker` run as child processes on the session's development database (a
database of their own) and Redis (a Redis database of their own), sending e-mail to an SMTP sink.
Screenshots go to test-artifacts/ (git-ignored); with TIDINGS_UPDATE_DOCS=1 the templates page also
replaces docs/console.png, the README's picture.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from pymongo import MongoClient

from admin_ui.staff import hash_password
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer, free_port
from tests.support.paths import ROOT
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
EMAIL, PASSWORD = "ops@example.test", "a long console password"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page() -> Iterator[Page]:
    """A page of Debian's Chromium, driven by Playwright (no browser download)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def _wait_ready(url: str, processes: list[subprocess.Popen[bytes]]) -> None:
    def answers() -> bool:
        for process in processes:
            assert process.poll() is None, f"a Tidings process exited ({process.args})"
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually_sync(answers, timeout=60, interval=0.2, what=f"Tidings to answer at {url}")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, devdb: DevDatabase, redis_server: RedisServer
) -> Iterator[tuple[str, SmtpSink]]:
    """`tidings api` + `tidings worker` on loopback; yields the base URL and the SMTP sink."""
    database = f"tidings_console_{time.monotonic_ns():x}"
    config = tmp_path_factory.mktemp("console") / "configuration.json"
    config.write_text(
        json.dumps(
            {
                "activeChannels": ["email"],
                "sender": {"email": "noreply@tidings.test"},
                "userFields": {"id": "fiscalCode", "emailAddress": "mail", "clusters": "groups"},
                "delivery": {"maxAttempts": 3, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.2},
            }
        )
    )
    mongo: MongoClient[dict[str, Any]] = MongoClient(devdb.url)
    db = mongo[database]
    db["staff"].insert_one({"email": EMAIL, "password_hash": hash_password(PASSWORD), "created_at": utcnow()})
    db["users"].insert_many(
        [
            {"fiscalCode": "ADA1", "mail": "ada@example.test", "name": "Ada", "groups": ["pilots"]},
            {"fiscalCode": "BOB2", "mail": "bob@example.test", "name": "Bob", "groups": []},
        ]
    )
    port = free_port()
    with SmtpSink() as sink:
        env = {
            **os.environ,
            "CONFIGURATION_PATH": str(config),
            "MONGODB_URL": devdb.url,
            "MONGODB_DATABASE": database,
            "REDIS_URL": redis_server.url.rsplit("/", 1)[0] + "/1",  # queues apart from the in-process stack
            "SMTP_HOST": sink.host,
            "SMTP_PORT": str(sink.port),
            "CONSOLE_SECURE_COOKIES": "false",
            "TIDINGS_SECRET_KEY": "browser-test-secret-key",
        }
        cli = [sys.executable, "-m", "host.cli.main"]
        base = f"http://127.0.0.1:{port}"
        api = subprocess.Popen([*cli, "api", "--port", str(port), "--migrate"], env=env, cwd=ROOT)
        processes = [api]
        try:
            _wait_ready(f"{base}/-/healthz", processes)  # the API has migrated the new database by now
            worker = [*cli, "worker", "--processes", "1", "--threads", "2"]
            processes.append(subprocess.Popen(worker, env=env, cwd=ROOT))
            yield base, sink
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            mongo.drop_database(database)
            mongo.close()


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/console/templates")
    expect(page).to_have_url(f"{base}/console/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/console/templates")


def test_console_end_to_end(page: Page, served: tuple[str, SmtpSink]) -> None:
    base, sink = served
    log_in(page, base)
    shot(page, "login-done")

    # create a template, watching the preview follow the typing and the chosen user
    page.click("text=New template")
    page.fill("#name", "welcome")
    page.fill("#email_title", "Hello {{ user.name }}")
    page.fill("#email_message", "Hi {{ user.name }}, here is {{ data.what }}.")
    page.fill("#sms_message", "Hi {{ user.name }}: {{ data.what }}")
    page.fill("#data", '{"what": "the news"}')
    page.fill("#user", "ada@example.test")
    expect(page.locator("#rendered-email_message")).to_have_text("Hi Ada, here is the news.")
    page.fill("#user", "BOB2")
    expect(page.locator("#rendered-email_message")).to_have_text("Hi Bob, here is the news.")
    page.locator("#email_message").press_sequentially(" Bye!")
    expect(page.locator("#rendered-email_message")).to_have_text("Hi Bob, here is the news. Bye!")
    expect(page.locator("#sms-count")).to_contain_text("GSM-7 · 1 segment")
    page.click("#save")
    expect(page.locator("#delete")).to_be_visible()  # the editor of the stored template

    # a syntax error shows next to its field, with the line
    page.fill("#user", "ada@example.test")
    page.fill("#sms_message", "Hi {{ user.name }}\n{% if %}")
    expect(page.locator("#error-sms_message")).to_contain_text("line 2")

    # template HTML with a script is shown, but the script never runs in the console's origin
    page.fill("#sms_message", "Hi {{ user.name }}: {{ data.what }}")
    page.fill(
        "#email_html_message",
        '<h1>Hi {{ user.name }}</h1><script>window.parent.pwned = 1; parent.document.title = "pwned";'
        "document.title = 'pwned'</script>",
    )
    frame = page.frame_locator("iframe.html-preview")
    expect(frame.locator("h1")).to_have_text("Hi Ada")
    assert page.evaluate("window.pwned") is None
    assert page.title() != "pwned"
    expect(page.locator("#error-sms_message")).to_be_empty()
    page.click("#save")
    expect(page.locator("#save-status")).to_contain_text("Saved")
    shot(page, "template-editor")
    page.goto(f"{base}/console/templates")
    templates = shot(page, "templates")
    if os.environ.get("TIDINGS_UPDATE_DOCS") == "1":  # the README's picture, refreshed on request only
        shutil.copyfile(templates, ROOT / "docs" / "console.png")

    # a test send refused by the SMTP server lands in the failure log; a retry sends it
    page.click("text=welcome")
    page.fill("#user", "ada@example.test")
    sink.script(["550 5.7.1 Refused by the test"])
    page.click("#send-test")
    expect(page.locator("#send-status")).to_contain_text("Accepted")
    page.goto(f"{base}/console/failures")
    row = page.locator("tr", has_text="Refused by the test")

    def listed() -> int:
        count = row.count()
        if not count:
            page.reload()
        return count

    eventually_sync(listed, timeout=20, interval=0.2, what="the refused send in the failure log")
    expect(row).to_have_count(1)
    expect(row.locator(".status")).to_have_text("failed")
    shot(page, "failures")
    row.locator("button.retry").click()
    retried = page.locator("tr[data-delivery]").first
    expect(retried.locator(".status")).to_have_text("sent", timeout=20_000)
    shot(page, "failures-retried")
    assert any("ada@example.test" in mail.rcpt_tos for mail in sink.received)

    # the other pages answer
    for path, heading in [
        ("/console/dispatches", "Dispatches"),
        ("/console/clusters", "Clusters"),
        ("/console/users?q=ada", "Users"),
        ("/console/users/ADA1", "User ADA1"),
    ]:
        page.goto(base + path)
        expect(page.locator("h1")).to_have_text(heading)
        shot(page, path.strip("/").replace("/", "-").split("?")[0])

    # logging out closes every page
    page.click("#logout")
    expect(page).to_have_url(f"{base}/console/login")
    for path in ["/console/templates", "/console/failures", "/console/users", "/console/dispatches"]:
        page.goto(base + path)
        expect(page).to_have_url(f"{base}/console/login")
