"""The template API: CRUD, compile errors named by field and line, and templates used by /send."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import assert_error
from tests.support.stacks import Stack


def template(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "emailTitle": "Hi {{user.name}}", "emailMessage": "Body {{data.x}}", **fields}


async def test_create_read_list_replace_delete(stack: Stack, unique: Callable[[str], str]) -> None:
    name = unique("welcome")
    body = template(
        name,
        emailHtmlMessage="<p>{{user.name}}</p>",
        emailAttachments=[{"file": "a.pdf", "name": "Terms.pdf"}],
        smsMessage="sms",
        pushTitle="t",
        pushData={"deep": "link"},
    )
    created = await stack.client.post("/templates", json=body)
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["name"] == name
    assert view["syntax"] == "jinja"
    assert view["emailAttachments"] == [
        {"file": "a.pdf", "name": "Terms.pdf", "size": None, "location": None}
    ]
    assert view["pushData"] == {"deep": "link"}
    assert view["voiceMessage"] is None
    template_id = view["id"]

    stored = await stack.db["templates"].find_one({"name": name})
    assert stored["email_html_message"] == "<p>{{user.name}}</p>"
    assert stored["syntax"] == "jinja"

    assert (await stack.client.get(f"/templates/{template_id}")).json() == view
    assert (await stack.client.get(f"/templates/{name}")).json()["id"] == template_id

    listed = (await stack.client.get("/templates", params={"name": name.upper()})).json()
    assert [item["id"] for item in listed["items"]] == [template_id]
    assert listed["nextAfter"] is None

    replaced = await stack.client.put(
        f"/templates/{template_id}", json={"name": name, "smsMessage": "{{ x }}", "syntax": "handlebars"}
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["emailTitle"] is None
    assert replaced.json()["syntax"] == "handlebars"
    assert replaced.json()["createdAt"] == view["createdAt"]

    assert (await stack.client.delete(f"/templates/{template_id}")).status_code == 204
    assert_error(await stack.client.get(f"/templates/{template_id}"), 404, template_id)
    assert_error(await stack.client.delete(f"/templates/{template_id}"), 404, template_id)


async def test_list_is_paginated_in_name_order(stack: Stack, unique: Callable[[str], str]) -> None:
    prefix = unique("page")
    for n in range(5):
        response = await stack.client.post("/templates", json={"name": f"{prefix}-{n}", "smsMessage": "x"})
        assert response.status_code == 201
    names: list[str] = []
    after = None
    for _ in range(10):
        params = {"name": prefix, "limit": "2", **({"after": after} if after else {})}
        page = (await stack.client.get("/templates", params=params)).json()
        names += [item["name"] for item in page["items"]]
        after = page["nextAfter"]
        if after is None:
            break
    assert names == [f"{prefix}-{n}" for n in range(5)]
    assert_error(await stack.client.get("/templates", params={"limit": "0"}), 400, "limit")


async def test_duplicate_names_are_409(stack: Stack, unique: Callable[[str], str]) -> None:
    first, second = unique("dup-a"), unique("dup-b")
    assert (await stack.client.post("/templates", json=template(first))).status_code == 201
    other = (await stack.client.post("/templates", json=template(second))).json()
    assert_error(await stack.client.post("/templates", json=template(first)), 409, first)
    assert_error(await stack.client.put(f"/templates/{other['id']}", json=template(first)), 409, first)


async def test_compile_errors_name_the_field_and_line(stack: Stack, unique: Callable[[str], str]) -> None:
    name = unique("broken")
    bad = template(name, emailHtmlMessage="<p>\n{% if %}</p>")
    assert_error(await stack.client.post("/templates", json=bad), 400, "emailHtmlMessage, line 2")
    bad_hbs = {"name": name, "pushMessage": "{{#if x}}open", "syntax": "handlebars"}
    assert_error(await stack.client.post("/templates", json=bad_hbs), 400, "pushMessage")
    assert await stack.db["templates"].find_one({"name": name}) is None


async def test_bad_bodies_are_400_naming_the_field(stack: Stack, unique: Callable[[str], str]) -> None:
    name = unique("bad")
    cases = [
        ({"emailTitle": "x"}, "name"),
        ({"name": ""}, "name"),
        ({"name": name, "syntax": "mustache"}, "syntax"),
        ({"name": name, "emailAttachments": [{"name": "x"}]}, "emailAttachments"),
        ({"name": name, "pushData": []}, "pushData"),
        ({"name": name, "unknownField": 1}, "unknownField"),
    ]
    for body, mentions in cases:
        assert_error(await stack.client.post("/templates", json=body), 400, mentions)
    assert_error(await stack.client.put(f"/templates/{unique('ghost')}", json={"name": name}), 404, "ghost")


async def test_a_template_missing_a_channel_field_is_refused_by_send(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    name = unique("no-title")
    created = await stack.client.post(
        "/templates", json={"name": name, "emailMessage": "body", "smsMessage": "s"}
    )
    response = await stack.client.post(
        "/send", json={"channels": ["email"], "recipients": ["anyone"], "templateId": created.json()["id"]}
    )
    assert_error(response, 400, f"template {name!r} has no emailTitle, required by channel 'email'")


async def test_a_stored_template_renders_through_send(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("reader")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "name": "Ada"})
    name = unique("greeting")
    body = {
        "name": name,
        "emailTitle": "Hello {{user.name}}",
        "emailMessage": "Dated {{data.when}}",
        "syntax": "handlebars",
    }
    assert (await stack.client.post("/templates", json=body)).status_code == 201
    result = await stack.send(
        {"channels": ["email"], "recipients": [uid], "templateId": name, "data": {"when": "01/02/2025"}}
    )
    assert result["failures"] == []
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}}
    [mail] = stack.mails_to(address)
    assert mail.message["Subject"] == "Hello Ada"
    assert mail.message.get_content().strip() == "Dated 01/02/2025"


async def test_the_resource_api_is_in_the_openapi_document(stack: Stack) -> None:
    paths = (await stack.client.get("/schema/openapi.json")).json()["paths"]
    for path in (
        "/templates",
        "/templates/{template_id}",
        "/clusters",
        "/clusters/{name}",
        "/clusters/{name}/members",
        "/users",
        "/users/{user_id}",
        "/users/bulk",
    ):
        assert path in paths, path


@pytest.mark.parametrize("syntax", ["handlebars", "jinja"])
async def test_a_template_over_the_compile_budget_is_refused_naming_the_field(
    stack: Stack, syntax: str, unique: Callable[[str], str]
) -> None:
    heavy = "{{a.b.c.d}}" * 23000
    base = {"name": unique(f"heavy-{syntax}"), "syntax": syntax, "emailTitle": "t", "emailMessage": "m"}
    for body, field in (
        ({**base, "smsMessage": heavy}, "smsMessage"),
        ({**base, "locales": {"de": {"emailMessage": heavy}}}, "locales.de.emailMessage"),
    ):
        response = await stack.client.post("/templates", json=body)
        assert response.status_code == 400, response.text[:300]
        assert response.json()["message"].startswith(f"{field}: "), response.json()
    assert await stack.db["templates"].find_one({"name": base["name"]}) is None
