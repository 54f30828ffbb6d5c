"""Mia's templates collection read and written in place (TEMPLATES_CRUD_NAME): the API and the console."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId
from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.staff import hash_password
from host.api.app import create_app
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.console import PASSWORD, login
from tests.support.stacks import Stack, open_stack

COLLECTION = "message_templates"


@pytest.fixture(scope="module")
async def mia_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    stack: Stack,
) -> AsyncIterator[Stack]:
    async with open_stack(
        tmp_path_factory.mktemp("mia-templates"),
        devdb,
        redis_server,
        smtp_sink,
        BASE_CONFIG,
        database="tidings_mia_templates",
        redis_db=5,
        session_stack=stack,
        TEMPLATES_CRUD_NAME=COLLECTION,
    ) as opened:
        yield opened


def mia_template(name: str, **fields: Any) -> dict[str, Any]:
    """A document as Mia's CRUD Service writes it."""
    when = datetime(2024, 5, 23, 9, 0, tzinfo=UTC)
    return {
        "_id": ObjectId(),
        "name": name,
        "emailTitle": "Ciao {{user.name}}",
        "emailHtmlMessage": "<p>{{#if data.urgent}}Urgente: {{/if}}{{data.text}}</p>",
        "smsMessage": "SMS per {{user.name}}",
        "pushData": '{"kind": "{{data.kind}}", "android": {"priority": "high"}}',
        "__STATE__": "PUBLIC",
        "creatorId": "crud-user-1",
        "createdAt": when,
        "updaterId": "crud-user-1",
        "updatedAt": when,
        "department": "billing",  # a field of this deployment's own schema
        **fields,
    }


async def test_a_mia_template_is_served_by_its_object_id_as_handlebars(
    mia_stack: Stack, unique: Callable[[str], str]
) -> None:
    doc = mia_template(unique("reminder"))
    await mia_stack.db[COLLECTION].insert_one(doc)
    view = (await mia_stack.client.get(f"/templates/{doc['_id']}")).json()
    assert view["id"] == str(doc["_id"]) and view["name"] == doc["name"]
    assert (view["emailTitle"], view["smsMessage"], view["syntax"]) == (
        "Ciao {{user.name}}",
        "SMS per {{user.name}}",
        "handlebars",
    )
    assert view["pushData"] == doc["pushData"]  # Mia's type: a JSON string
    assert view["version"] == 1 and view["updatedBy"] == "crud-user-1"


async def test_a_template_not_public_is_not_there(mia_stack: Stack, unique: Callable[[str], str]) -> None:
    trashed = mia_template(unique("trashed"), __STATE__="TRASH")
    live = mia_template(unique("live"))
    await mia_stack.db[COLLECTION].insert_many([trashed, live])
    assert (await mia_stack.client.get(f"/templates/{trashed['_id']}")).status_code == 404
    names = [t["name"] for t in (await mia_stack.client.get("/templates?limit=1000")).json()["items"]]
    assert live["name"] in names and trashed["name"] not in names
    send = await mia_stack.client.post(
        "/send", json={"channels": ["email"], "recipients": ["x"], "templateId": str(trashed["_id"])}
    )
    assert send.status_code == 404 and "templateId" in send.json()["message"]


async def test_saving_through_tidings_writes_mias_shape_in_place_and_keeps_the_crud_fields(
    mia_stack: Stack, unique: Callable[[str], str]
) -> None:
    doc = mia_template(unique("edited"))
    await mia_stack.db[COLLECTION].insert_one(doc)
    body = {
        "name": doc["name"],
        "emailTitle": "Nuovo titolo {{user.name}}",
        "emailMessage": "Testo",
        "pushData": {"kind": "fixed"},
    }
    saved = await mia_stack.client.put(f"/templates/{doc['_id']}", json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    stored = await mia_stack.db[COLLECTION].find_one({"_id": doc["_id"]})
    assert stored is not None
    assert stored["emailTitle"] == "Nuovo titolo {{user.name}}" and stored["emailMessage"] == "Testo"
    assert "emailHtmlMessage" not in stored and "smsMessage" not in stored  # cleared, as PUT says
    assert json.loads(stored["pushData"]) == {"kind": "fixed"}  # written as Mia types it
    assert (stored["__STATE__"], stored["creatorId"], stored["createdAt"]) == (
        "PUBLIC",
        "crud-user-1",
        doc["createdAt"].replace(tzinfo=UTC),
    )
    assert stored["department"] == "billing" and stored["syntax"] == "handlebars"
    assert stored["version"] == 2 and stored["updaterId"] == "api"
    versions = (await mia_stack.client.get(f"/templates/{doc['_id']}/versions")).json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    first = (await mia_stack.client.get(f"/templates/{doc['_id']}/versions/1")).json()
    assert first["emailTitle"] == "Ciao {{user.name}}"


async def test_a_template_created_through_tidings_is_a_public_crud_document(
    mia_stack: Stack, unique: Callable[[str], str]
) -> None:
    name = unique("created")
    created = await mia_stack.client.post(
        "/templates", json={"name": name, "smsMessage": "Ciao {{user.name}}{{#if data.x}}!{{/if}}"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["syntax"] == "handlebars"  # Mia's collection: Handlebars unless told otherwise
    stored = await mia_stack.db[COLLECTION].find_one({"_id": ObjectId(created.json()["id"])})
    assert stored is not None
    assert (stored["name"], stored["smsMessage"], stored["__STATE__"], stored["creatorId"]) == (
        name,
        "Ciao {{user.name}}{{#if data.x}}!{{/if}}",
        "PUBLIC",
        "api",
    )
    taken = await mia_stack.client.post("/templates", json={"name": name, "smsMessage": "x"})
    assert taken.status_code == 409
    assert (await mia_stack.client.delete(f"/templates/{created.json()['id']}")).status_code in (200, 204)
    assert await mia_stack.db[COLLECTION].find_one({"_id": stored["_id"]}) is None


async def test_a_send_by_template_id_renders_the_mia_template(
    mia_stack: Stack, unique: Callable[[str], str]
) -> None:
    doc = mia_template(unique("sent"))
    await mia_stack.db[COLLECTION].insert_one(doc)
    uid = unique("citizen")
    await mia_stack.add_users(
        {"fiscalCode": uid, "mail": f"{uid}@example.org", "name": "Lucia", "groups": []}
    )
    result = await mia_stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "templateId": str(doc["_id"]),
            "data": {"urgent": True, "text": "la bolletta"},
        }
    )
    assert result["failures"] == []
    await mia_stack.wait_settled(result["dispatchId"])
    [mail] = mia_stack.mails_to(f"{uid}@example.org")
    assert mail.message["Subject"] == "Ciao Lucia"
    html = mail.message.get_body(("html",)).get_content()
    assert "<p>Urgente: la bolletta</p>" in html


async def test_the_console_lists_and_opens_mia_templates(
    mia_stack: Stack, unique: Callable[[str], str]
) -> None:
    doc = mia_template(unique("console"))
    await mia_stack.db[COLLECTION].insert_one(doc)
    email = f"{unique('editor')}@example.test"
    await mia_stack.db["staff"].insert_one(
        {"email": email, "password_hash": hash_password(PASSWORD), "role": "editor", "created_at": utcnow()}
    )
    client: AsyncTestClient[Litestar]
    async with AsyncTestClient(create_app(mia_stack.actors), base_url="https://127.0.0.1") as client:
        assert (await login(client, email)).status_code == 303
        listing = await client.get("/console/templates")
        assert listing.status_code == 200 and doc["name"] in listing.text
        editor = await client.get(f"/console/templates/{doc['_id']}")
        assert editor.status_code == 200 and "SMS per {{user.name}}" in editor.text
