"""Template history: versions kept on every save, read and restored over the API and the console, and
each dispatch rendered with the version it was accepted with."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from host.api.app import create_app
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink, free_port
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.console import csrf_of, login
from tests.support.stacks import Stack, open_stack
from tests.support.waiting import eventually


async def _new_template(client: Any, name: str, title: str) -> str:
    created = await client.post(
        "/templates", json={"name": name, "emailTitle": title, "emailMessage": "Body"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    return str(created.json()["id"])


async def _retitle(client: Any, template_id: str, name: str, title: str) -> dict[str, Any]:
    saved = await client.put(
        f"/templates/{template_id}", json={"name": name, "emailTitle": title, "emailMessage": "Body"}
    )
    assert saved.status_code == 200, saved.text
    result: dict[str, Any] = saved.json()
    return result


async def test_every_save_is_kept_and_restoring_renders_the_old_text(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    name = unique("history")
    template_id = await _new_template(stack.client, name, "First {{ user.name }}")
    assert (await _retitle(stack.client, template_id, name, "Second {{ user.name }}"))["version"] == 2
    assert (await _retitle(stack.client, template_id, name, "Third {{ user.name }}"))["version"] == 3

    listed = (await stack.client.get(f"/templates/{template_id}/versions")).json()
    assert [(v["version"], v["current"], v["savedBy"]) for v in listed["items"]] == [
        (3, True, "api"),
        (2, False, "api"),
        (1, False, "api"),
    ]
    first = (await stack.client.get(f"/templates/{name}/versions/1")).json()
    assert first["emailTitle"] == "First {{ user.name }}" and first["version"] == 1
    missing = await stack.client.get(f"/templates/{template_id}/versions/9")
    assert missing.status_code == 404 and "no version 9" in missing.json()["message"]
    kept = await stack.db["template_versions"].find_one({"_id": f"{template_id}:2"})
    assert kept["fields"]["email_title"] == "Second {{ user.name }}" and kept["saved_at"] is not None

    restored = await stack.client.post(f"/templates/{template_id}/versions/1/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 4 and restored.json()["emailTitle"] == "First {{ user.name }}"
    assert len((await stack.client.get(f"/templates/{template_id}/versions")).json()["items"]) == 4

    # the console: the editor holds the restored text, and its preview renders it
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as console:
        email = f"{unique('staff')}@example.test"
        from admin_ui.staff import hash_password
        from host.storage.documents import utcnow

        await stack.db["staff"].insert_one(
            {"email": email, "password_hash": hash_password("correct horse battery"), "created_at": utcnow()}
        )
        await login(console, email)
        editor = (await console.get(f"/console/templates/{template_id}")).text
        title = re.search(r'<textarea id="email_title"[^>]*>([^<]*)</textarea>', editor)
        assert title is not None and html.unescape(title.group(1)) == "First {{ user.name }}"
        token = csrf_of(editor)
        preview = await console.post(
            "/console/preview",
            data={"name": name, "email_title": html.unescape(title.group(1)), "data": "{}", "user": ""},
            headers={"X-CSRF-Token": token},
        )
        assert re.search(r'id="rendered-email_title">First </div>', preview.text), preview.text

        # history page with a diff, and a restore from the console recorded under the staff e-mail
        history = (await console.get(f"/console/templates/{template_id}/history")).text
        assert "Version 4 (current)" in history
        assert "-Third {{ user.name }}" in html.unescape(history)
        assert "+First {{ user.name }}" in html.unescape(history)
        again = await console.post(
            f"/console/templates/{template_id}/versions/3/restore", headers={"X-CSRF-Token": token}
        )
        assert (
            again.status_code == 200 and again.headers["HX-Redirect"] == f"/console/templates/{template_id}"
        )
        latest = (await stack.client.get(f"/templates/{template_id}/versions")).json()["items"][0]
        assert (latest["version"], latest["savedBy"]) == (5, email)
        await console.post(
            f"/console/templates/{template_id}/versions/4/restore", headers={"X-CSRF-Token": token}
        )

    # the next dispatch sends the restored (version 4 = version 1) text
    user = unique("USR")
    address = f"{user.lower()}@example.test"
    await stack.add_users({"fiscalCode": user, "mail": address, "name": "Ada"})
    sent = await stack.send({"channels": ["email"], "recipients": [user], "templateId": template_id})
    await stack.wait_settled(sent["dispatchId"])
    dispatch = await stack.db["dispatches"].find_one({"_id": sent["dispatchId"]})
    assert dispatch["template_version"] == 6
    assert [m.message["Subject"] for m in stack.mails_to(address)] == ["First Ada"]


async def test_a_dispatch_queued_before_an_edit_sends_the_version_it_was_accepted_with(
    tmp_path: Path,
    devdb: DevDatabase,
    redis_server: RedisServer,
    stack: Stack,
    unique: Callable[[str], str],
) -> None:
    # an SMTP server that is not up yet: the first attempts fail before anything is rendered
    sink = SmtpSink(port=free_port())
    config = {
        **BASE_CONFIG,
        "delivery": {"maxAttempts": 200, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.1},
    }
    database = unique("history").replace("-", "_")
    async with open_stack(
        tmp_path, devdb, redis_server, sink, config, database=database, redis_db=5, session_stack=stack
    ) as own:
        name = unique("queued")
        template_id = await _new_template(own.client, name, "Old {{ user.name }}")
        user = unique("USR")
        await own.add_users({"fiscalCode": user, "mail": "queued@example.test", "name": "Bo"})
        sent = await own.send({"channels": ["email"], "recipients": [user], "templateId": template_id})
        await eventually(
            lambda: own.db["deliveries"].find_one(
                {"dispatch_id": sent["dispatchId"], "attempts": {"$gte": 2}}
            ),
            timeout=20,
            what="a failed attempt",
        )

        await _retitle(own.client, template_id, name, "New {{ user.name }}")
        async with sink:
            await own.wait_settled(sent["dispatchId"])
            assert [m.message["Subject"] for m in sink.received] == ["Old Bo"]
            later = await own.send({"channels": ["email"], "recipients": [user], "templateId": template_id})
            await own.wait_settled(later["dispatchId"])
            assert [m.message["Subject"] for m in sink.received] == ["Old Bo", "New Bo"]


async def test_a_template_that_does_not_compile_keeps_its_version(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    name = unique("broken")
    template_id = await _new_template(stack.client, name, "Fine")
    refused = await stack.client.put(
        f"/templates/{template_id}", json={"name": name, "emailTitle": "{% if %}"}
    )
    assert refused.status_code == 400
    assert (await stack.client.get(f"/templates/{template_id}")).json()["version"] == 1
    assert await stack.db["template_versions"].count_documents({"template_id": template_id}) == 1
