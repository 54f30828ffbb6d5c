"""The console in real Chromium (Debian's), against Tidings served by uvicorn with a worker process.

`tidings api` and `tidings worker` run as child processes on the session's development database (a
database of their own) and Redis (a Redis database of their own), sending e-mail to an SMTP sink; the
inbox is tried against `tidings run`, which captures what it cannot send. What the tests check of HTML
frames is what Chromium paints: the frame's text through Playwright's frame API, and the pixels of a
screenshot of the frame (a frame Chromium refuses to render is blank there, whatever its DOM holds).
Screenshots go to test-artifacts/ (git-ignored); with TIDINGS_UPDATE_DOCS=1 the template editor also
replaces docs/console.png, the README's picture.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect, sync_playwright
from pymongo import MongoClient

from admin_ui.staff import hash_password
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from tests.fakes.files import FileService
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
            yield browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
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


def log_in(page: Page, base: str, email: str = EMAIL, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/templates")
    expect(page).to_have_url(f"{base}/console/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/console/templates")


def code(page: Page, key: str) -> Locator:
    """The code editor (CodeMirror) of one template field."""
    return page.locator(f'[data-editor-for="{key}"] .cm-content')


def type_code(page: Page, key: str, text: str) -> None:
    """Replace a template field's source in its code editor, as typing would."""
    code(page, key).fill(text)


def painted_pixels(frame: Locator) -> int:
    """How many pixels of the frame's screenshot are dark (text), not the white of an empty page."""
    shot = frame.screenshot()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "frame.png").write_bytes(shot)
    with Image.open(io.BytesIO(shot)) as image:
        histogram = image.convert("L").histogram()  # pixels per grey level, 0 (black) to 255 (white)
    return sum(histogram[:128])


def expect_painted(frame: Locator, heading: str) -> None:
    """The frame shows ``heading``: in its document (frame API) and on screen (dark pixels)."""
    expect(frame.content_frame.locator("h1")).to_have_text(heading)  # waits for the frame of this render
    document = frame.element_handle().content_frame()
    assert document is not None
    assert heading in document.inner_text("body")
    assert painted_pixels(frame) > 150, "the frame holds the HTML but Chromium painted nothing"


def test_the_html_preview_is_painted(page: Page, served: tuple[str, SmtpSink]) -> None:
    """The e-mail HTML preview shows in Chromium (it used to be a blank srcdoc frame refused by the CSP)."""
    base, _ = served
    log_in(page, base)
    page.goto(f"{base}/console/templates/new")
    page.fill("#user", "ada@example.test")
    type_code(page, "email_html_message", "<h1>Hi {{ user.name }}</h1><p>Painted, not just stored.</p>")
    expect_painted(page.locator("iframe.html-preview"), "Hi Ada")
    shot(page, "preview-painted")


def test_console_end_to_end(page: Page, served: tuple[str, SmtpSink]) -> None:
    base, sink = served
    log_in(page, base)
    shot(page, "login-done")

    # create a template, watching the preview follow the typing and the chosen user
    page.click("text=New template")
    expect(page.locator("#syntax")).to_have_value("handlebars")  # the service's templateSyntax (default)
    page.select_option("#syntax", "jinja")
    page.fill("#name", "welcome")
    type_code(page, "email_title", "Hello {{ user.name }}")
    type_code(page, "email_message", "Hi {{ user.name }}, here is {{ data.what }}.")
    type_code(page, "sms_message", "Hi {{ user.name }}: {{ data.what }}")
    page.fill("#data", '{"what": "the news"}')
    page.fill("#user", "ada@example.test")
    expect(page.locator("#rendered-email_message")).to_have_text("Hi Ada, here is the news.")
    page.fill("#user", "BOB2")
    expect(page.locator("#rendered-email_message")).to_have_text("Hi Bob, here is the news.")
    code(page, "email_message").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" Bye!")
    expect(page.locator("#rendered-email_message")).to_have_text("Hi Bob, here is the news. Bye!")
    expect(page.locator("#sms-count")).to_contain_text("GSM-7 · 1 segment")
    # the editor highlights the template's syntax: Jinja's tags are tokens of their own
    expect(page.locator('[data-editor-for="email_title"] .cm-line span').first).to_be_visible()
    page.click("#save")
    expect(page.locator("#delete")).to_be_visible()  # the editor of the stored template

    # a syntax error shows next to its field, with the line, and the line is marked in the editor
    page.fill("#user", "ada@example.test")
    type_code(page, "sms_message", "Hi {{ user.name }}\n{% if %}")
    expect(page.locator("#error-sms_message")).to_contain_text("line 2")
    marked = page.locator('[data-editor-for="sms_message"] .cm-error-line')
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-error-line", "2")

    # template HTML with a script is shown, but the script never runs, neither there nor in the console
    type_code(page, "sms_message", "Hi {{ user.name }}: {{ data.what }}")
    expect(marked).to_have_count(0)
    type_code(
        page,
        "email_html_message",
        '<h1>Hi {{ user.name }}</h1><script>window.parent.pwned = 1; parent.document.title = "pwned";'
        "document.title = 'pwned'; document.body.innerHTML = '<h1>script ran</h1>'</script>",
    )
    frame = page.locator("iframe.html-preview")
    expect_painted(frame, "Hi Ada")
    assert page.evaluate("window.pwned") is None
    assert page.title() != "pwned"
    expect(page.locator("#error-sms_message")).to_be_empty()

    # Handlebars: the syntax the preview renders with, and what is saved
    page.select_option("#syntax", "handlebars")
    type_code(page, "email_title", "Hello {{#if user.name}}{{user.name}}{{else}}you{{/if}}")
    expect(page.locator("#rendered-email_title")).to_have_text("Hello Ada")
    page.select_option("#category", "transactional")
    page.click("#save")
    expect(page.locator("#save-status")).to_contain_text("Saved")
    page.reload()
    expect(page.locator("#syntax")).to_have_value("handlebars")
    expect(page.locator("#category")).to_have_value("transactional")
    expect(page.locator("#rendered-email_title")).to_have_text("Hello you")  # no user chosen now
    page.select_option("#syntax", "jinja")
    page.select_option("#category", "standard")
    type_code(page, "email_title", "Hello {{ user.name }}")
    page.click("#save")
    expect(page.locator("#save-status")).to_contain_text("Saved")
    editor = shot(page, "template-editor")
    if os.environ.get("TIDINGS_UPDATE_DOCS") == "1":  # the README's picture, refreshed on request only
        page.fill("#user", "ada@example.test")
        type_code(page, "email_html_message", "<h1>Your order has shipped</h1><p>Hi {{ user.name }}!</p>")
        expect_painted(frame, "Your order has shipped")
        page.set_viewport_size({"width": 1280, "height": 760})
        page.screenshot(path=str(ROOT / "docs" / "console.png"))
        page.set_viewport_size({"width": 1280, "height": 900})
    assert editor.exists()
    page.goto(f"{base}/console/templates")
    shot(page, "templates")

    # a test send refused by the SMTP server lands in the failure log; a retry sends it
    page.click("text=welcome")
    page.fill("#user", "ada@example.test")
    page.select_option("#test-channel", "email")
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

    # the Overview draws what happened: one failure, then the retry sent
    page.goto(f"{base}/console/overview")
    chart = page.locator('figure[data-channel="email"]')
    expect(chart.locator("figcaption")).to_contain_text("1 sent · 0 retry · 1 failed")
    title = "email: deliveries per minute over the last 24 hours"
    expect(chart.locator("svg.minutes > title")).to_have_text(title)
    expect(chart.locator("svg rect[fill]")).to_have_count(2)  # this minute's two outcomes
    expect(page.locator("#queues tr[data-channel=email] .queued")).to_have_text("0")
    expect(page.locator("#providers")).to_contain_text(f"smtp://{sink.host}:{sink.port}")
    shot(page, "overview")
    # "send test to me" from another tab, and the Overview follows by itself (htmx, every 5 s)
    other = page.context.new_page()
    other.goto(f"{base}/console/templates")
    other.click("text=welcome")
    other.click("#send-test-me")
    expect(other.locator("#send-status")).to_contain_text(f"Accepted for {EMAIL}")
    expect(chart.locator("figcaption")).to_contain_text("2 sent · 0 retry · 1 failed", timeout=20_000)
    assert any(EMAIL in mail.rcpt_tos and "Hello ops" in mail.message["Subject"] for mail in sink.received)
    other.close()

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


_PROVIDER_PREFIXES = ("SMTP_", "TWILIO_", "VAPID_", "FCM_", "KALEYRA_", "GOOGLE_APPLICATION_CREDENTIALS")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str, FileService]]:
    """`tidings run` with every channel and no provider: (base URL, first password, database URL, files)."""
    data = tmp_path_factory.mktemp("embedded")
    config = data / "configuration.json"
    config.write_text(
        json.dumps(
            {
                "activeChannels": ["email", "sms", "voice", "push"],
                "sender": {"email": "noreply@tidings.test", "sms": "+15005550006", "voice": "+15005550006"},
            }
        )
    )
    port = free_port()
    with FileService() as files:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_PROVIDER_PREFIXES)}
        env = {k: v for k, v in env.items() if k not in ("MONGODB_URL", "REDIS_URL", "MONGODB_DATABASE")}
        env |= {
            "TIDINGS_DATA_DIR": str(data),
            "CONFIGURATION_PATH": str(config),
            "FILE_SERVICE_URL": files.url,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "host.cli.main", "run", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert process.stdout is not None
            banner = ""
            for line in process.stdout:
                banner += line
                if "(shown only this once" in line:
                    break
            password = re.search(r"password  (\S+)", banner)
            database = re.search(r"at (mongodb://127\.0\.0\.1:\d+)", banner)
            assert password and database, banner
            base = f"http://127.0.0.1:{port}"
            _wait_ready(f"{base}/-/ready", [process])
            yield base, password.group(1), database.group(1), files
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def test_the_inbox_of_tidings_run(page: Page, embedded: tuple[str, str, str, FileService]) -> None:
    base, password, database, files = embedded
    files.put("scan.pdf", b"%PDF-1.4 the scan " + os.urandom(2000))
    with MongoClient(database) as client:
        client["tidings"]["users"].insert_one(
            {
                "_id": "ada",
                "name": "Ada",
                "emailAddress": "ada@example.org",
                "phoneNumber": "+393330000042",
                "deviceToken": "fcm-token-" + "a" * 40,
            }
        )
    sent = httpx.post(
        f"{base}/send",
        json={
            "channels": ["email", "sms", "voice", "push"],
            "recipients": ["ada"],
            "messageTitle": "Parcel for {{ user.name }}",
            "messageContent": "It ships today, {{ user.name }} €",
            "emailAttachments": ["scan.pdf"],
        },
    )
    assert sent.status_code == 200, sent.text
    log_in(page, base, "admin@tidings.localhost", password)
    page.click("nav >> text=Inbox")
    rows = page.locator("#captures tr[data-capture]")
    for _ in range(100):
        if rows.count() == 4:
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(rows).to_have_count(4)
    shot(page, "inbox")

    # the search takes its text literally: "+39" is no regex, ".*" matches nothing
    page.fill("#q", "+39333")
    expect(rows).to_have_count(2)  # the SMS and the call
    page.fill("#q", ".*")
    expect(page.locator("#captures")).to_contain_text("Nothing captured for this search")
    page.fill("#q", "")
    expect(rows).to_have_count(4)

    # the e-mail: headers, its HTML painted in a sandboxed frame... it has none: text and attachment
    page.goto(f"{base}/console/inbox?channel=email")
    page.locator("#captures a").first.click()
    expect(page.locator("#mail-subject")).to_have_text("Parcel for Ada")
    expect(page.locator("#mail-text")).to_contain_text("It ships today, Ada €")
    with page.expect_download() as download:
        page.click("#attachments a")
    assert Path(download.value.path()).read_bytes() == files.files["scan.pdf"]
    shot(page, "inbox-email")

    # the SMS with its encoding and segments, the push as a notification, the call with its TwiML
    page.goto(f"{base}/console/inbox?channel=sms")
    page.locator("#captures a").first.click()
    expect(page.locator("#sms-text")).to_have_text("It ships today, Ada €")
    expect(page.locator("#sms-count")).to_have_text("21 characters · GSM-7 · 1 segment")
    page.goto(f"{base}/console/inbox?channel=push")
    page.locator("#captures a").first.click()
    expect(page.locator("#push-title")).to_have_text("Parcel for Ada")
    shot(page, "inbox-push")
    page.goto(f"{base}/console/inbox?channel=voice")
    page.locator("#captures a").first.click()
    expect(page.locator("#voice-text")).to_have_text("It ships today, Ada €")
    expect(page.locator("#twiml")).to_contain_text("<Say")

    # a template with HTML, sent to me: captured, and its HTML painted in the inbox
    page.goto(f"{base}/console/templates/new")
    page.fill("#name", "shipped")
    type_code(page, "email_title", "Shipped, {{ user.name }}")
    type_code(page, "email_html_message", "<h1>On its way</h1><p>Your parcel ships today.</p>")
    page.click("#save")
    expect(page.locator("#delete")).to_be_visible()
    page.click("#send-test-me")
    expect(page.locator("#send-status")).to_contain_text("Accepted for admin@tidings.localhost")
    page.click("#send-status >> text=inbox")
    page.fill("#q", "admin@tidings")
    mine = page.locator("#captures a")
    for _ in range(100):
        if mine.count():
            break
        page.wait_for_timeout(200)
        page.fill("#q", "admin@tidings.")
        page.fill("#q", "admin@tidings")
    mine.first.click()
    expect(page.locator("#mail-subject")).to_have_text("Shipped, admin")
    expect_painted(page.locator("iframe.mail"), "On its way")
    shot(page, "inbox-sent-to-me")

    page.goto(f"{base}/console/inbox")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#clear-inbox")
    expect(page.locator("#captures")).to_contain_text("Nothing captured yet")
    assert httpx.get(f"{base}/dev/inbox").json()["items"] == []
