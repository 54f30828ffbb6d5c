"""A Mia configuration file has no ``templateSyntax``: messages and new templates are then Handlebars.

One stack with the default setting: inline messages as Mia documents them arrive rendered over SMTP,
templates created without ``syntax`` are Handlebars (a stored template keeps its own), helpers that
touch files or the process are refused when the message is accepted or the template saved (400 naming
the field and the helper), and HTML bodies escape values and turn their newlines into ``<br/>``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink, free_port
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import Stack, open_stack

_MIA_CONFIG = {key: value for key, value in BASE_CONFIG.items() if key != "templateSyntax"}


@pytest.fixture
async def mia(
    tmp_path: Path, devdb: DevDatabase, redis_server: RedisServer, stack: Stack, unique: Callable[[str], str]
) -> AsyncIterator[Stack]:
    with SmtpSink(port=free_port()) as sink:
        database = unique("handlebars").replace("-", "_")
        async with open_stack(
            tmp_path,
            devdb,
            redis_server,
            sink,
            _MIA_CONFIG,
            database=database,
            redis_db=12,
            session_stack=stack,
        ) as own:
            assert own.settings.config.template_syntax == "handlebars"
            yield own


async def _mail(stack: Stack, address: str) -> Any:
    deadline = time.monotonic() + 20
    while not stack.mails_to(address):
        assert time.monotonic() < deadline, f"no mail to {address}"
        await asyncio.sleep(0.05)
    [mail] = stack.mails_to(address)
    return mail.message


async def test_inline_messages_are_handlebars_as_mia_documents_them(mia: Stack) -> None:
    await mia.add_users({"fiscalCode": "MRA", "mail": "mario@example.test", "name": "Mario"})
    sent = await mia.send(
        {
            "channels": ["email"],
            "recipients": ["MRA"],
            "messageTitle": '{{#if (eq data.type "patients")}}{{data.firstName}} {{data.lastName}}{{/if}}',
            "messageContent": "Hello, {{user.name}}! You have a new appointment on {{data.appointmentDate}} "
            'and you are going to pay ${{toLocale data.serviceAmount "en-US"}}',
            "data": {
                "type": "patients",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "appointmentDate": "01/01/2021",
                "serviceAmount": 1234567.89,
            },
        }
    )
    assert sent["failures"] == []
    message = await _mail(mia, "mario@example.test")
    assert message["Subject"] == "Ada Lovelace"
    body = message.get_body(("plain",)).get_content()
    assert (
        "Hello, Mario! You have a new appointment on 01/01/2021 and you are going to pay $1,234,567.89"
        in body
    )


@pytest.mark.parametrize(
    ("field", "source", "helper"),
    [
        ("messageContent", "{{read 'secrets.txt'}}", "read"),
        ("messageContent", "text\n{{#embed 'a.js'}}{{/embed}}", "embed"),
        ("messageTitle", "{{log 'hi'}}", "log"),
        ("messageTitle", "{{shout user.name}}", "shout"),
    ],
)
async def test_inline_messages_with_refused_helpers_are_a_400_naming_field_and_helper(
    mia: Stack, field: str, source: str, helper: str
) -> None:
    body = {
        "channels": ["email"],
        "recipients": ["x"],
        "messageTitle": "t",
        "messageContent": "c",
        field: source,
    }
    response = await mia.client.post("/send", json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["statusCode"] == "400" and answer["error"] == "Bad request"
    assert answer["message"].startswith(f"{field}: ")
    assert f"'{helper}'" in answer["message"]


async def test_templates_created_without_syntax_are_handlebars_and_keep_theirs(mia: Stack) -> None:
    created = await mia.client.post(
        "/templates", json={"name": "hbs-default", "emailTitle": "{{capitalize user.name}}"}
    )
    assert created.status_code == 201, created.text
    template = created.json()
    assert template["syntax"] == "handlebars"
    replaced = await mia.client.put(
        f"/templates/{template['id']}", json={"name": "hbs-default", "emailTitle": "{{upcase user.name}}"}
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["syntax"] == "handlebars"

    jinja = await mia.client.post(
        "/templates", json={"name": "still-jinja", "syntax": "jinja", "emailTitle": "{{ user.name|upper }}"}
    )
    assert jinja.status_code == 201, jinja.text
    kept = await mia.client.put(
        f"/templates/{jinja.json()['id']}",
        json={"name": "still-jinja", "emailTitle": "{{ user.name|title }}"},
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["syntax"] == "jinja"


async def test_saving_a_template_with_a_refused_helper_is_a_400_naming_field_line_and_helper(
    mia: Stack,
) -> None:
    response = await mia.client.post(
        "/templates",
        json={"name": "reads-files", "emailTitle": "ok", "emailMessage": "line one\n{{readdir '/etc'}}"},
    )
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("emailMessage, line 2: ")
    assert "helper 'readdir' is not allowed in message templates: it reads files on the server" in message


async def test_html_bodies_escape_values_and_break_their_lines(mia: Stack) -> None:
    created = await mia.client.post(
        "/templates",
        json={
            "name": "html-rule",
            "emailTitle": "Note for {{user.name}}",
            "emailHtmlMessage": "<p>{{data.note}}</p><div>{{{data.markup}}}</div>\n"
            "<p>{{#each data.lines}}{{this}} {{/each}}</p>",
        },
    )
    assert created.status_code == 201, created.text
    await mia.add_users({"fiscalCode": "ADA", "mail": "ada@example.test", "name": "Ada"})
    await mia.send(
        {
            "channels": ["email"],
            "recipients": ["ADA"],
            "templateId": created.json()["id"],
            "data": {
                "note": "Tom & 'Jerry'\nsecond <line>",
                "markup": "<b>bold</b>\n",
                "lines": ["a=1", "b"],
            },
        }
    )
    html = (await _mail(mia, "ada@example.test")).get_body(("html",)).get_content()
    assert "<p>Tom &amp; &#x27;Jerry&#x27;<br/>second &lt;line&gt;</p>" in html
    assert "<div><b>bold</b>\n</div>" in html  # {{{raw}}} is printed as it is
    assert "<p>a&#x3D;1 b </p>" in html
