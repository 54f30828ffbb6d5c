"""Reading Flow Manager commands: Tidings' own payload, Mia's metadataSchema, and Mia's scripts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from host.dispatch.saga import SagaReader, saga_key
from host.errors import RequestError
from host.settings import MetadataSchema, SagaScriptSource, SagaSettings, ScriptLimits
from tests.support.mia_documents import (
    MIA_GET_DATA_EXAMPLE,
    MIA_GET_TEMPLATE_ID_EXAMPLE,
    mia_configuration_json,
)

#: the documented example's metadataSchema
MIA_SCHEMA = msgspec.convert(
    json.loads(mia_configuration_json())["flowManagerConfiguration"]["metadataSchema"], MetadataSchema
)
TEMPLATE_ID = "65f1c0ffee0000000000abcd"


def command(payload: Any, label: str = "notifyBuyer", key: str = "saga-7") -> bytes:
    return json.dumps({"key": key, "value": {"messageLabel": label, "messagePayload": payload}}).encode()


def source(key: str, text: str) -> SagaScriptSource:
    return SagaScriptSource(key=f"flowManagerConfiguration.{key}", path=f"/config/{key}.js", source=text)


@pytest.fixture
def readers() -> Iterator[list[SagaReader]]:
    made: list[SagaReader] = []
    yield made
    for reader in made:
        reader.close()


def reader_of(readers: list[SagaReader], **settings: Any) -> SagaReader:
    reader = SagaReader(SagaSettings(limits=ScriptLimits(time_limit_seconds=0.3), **settings))
    readers.append(reader)
    return reader


async def test_the_documented_schema_locates_the_fields_and_the_command_is_the_data(
    readers: list[SagaReader],
) -> None:
    payload = {
        "notifications": {"channels": ["email", "push"]},
        "buyer": {"name": "RSSMRA80A01H501U"},
        "notification": {"channel": TEMPLATE_ID},
        "orderId": 42,
    }
    body = command(payload)
    key, request = await reader_of(readers, schema=MIA_SCHEMA).read(body)
    assert key == "saga-7"
    assert request.channels == ["email", "push"]
    assert request.recipients == ["RSSMRA80A01H501U"]  # one path holding a string: a list of one
    assert request.template_id == TEMPLATE_ID
    assert request.data == json.loads(body)  # without getDataFilePath, the command as it is


async def test_a_list_field_gathers_several_paths_in_order(readers: list[SagaReader]) -> None:
    schema = MetadataSchema(
        channels="c",
        recipients=["buyer.id", "seller.ids", "absent.id"],
        clusters="groups",
        message_title="t",
        message_content="m",
        email_carbon_copies=["cc"],
        email_sender="from",
    )
    payload = {
        "c": "sms",
        "buyer": {"id": "b1"},
        "seller": {"ids": ["s1", "s2"]},
        "groups": ["vip"],
        "t": "Title",
        "m": "Body",
        "cc": "boss@example.org",
        "from": "shop@example.org",
    }
    _, request = await reader_of(readers, schema=schema).read(command(payload))
    assert (request.channels, request.recipients, request.clusters) == (["sms"], ["b1", "s1", "s2"], ["vip"])
    assert (request.message_title, request.message_content) == ("Title", "Body")
    assert (request.email_carbon_copies, request.email_sender) == (["boss@example.org"], "shop@example.org")
    assert request.template_id is None and request.email_attachments is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"buyer": {"name": "x"}},
            "channels (messagePayload.notifications.channels): not found in the command",
        ),
        (
            {"notifications": {"channels": [1]}, "buyer": {"name": "x"}},
            "channels (messagePayload.notifications.channels): must be a string or a list of strings",
        ),
        (
            {
                "notifications": {"channels": ["email"]},
                "buyer": {"name": "x"},
                "notification": {"channel": 5},
            },
            "templateId (messagePayload.notification.channel): must be a string",
        ),
        ("not an object", "value.messagePayload: must be an object (metadataSchema reads fields from it)"),
    ],
)
async def test_a_field_of_the_wrong_shape_is_named_with_its_path(
    readers: list[SagaReader], payload: Any, message: str
) -> None:
    with pytest.raises(RequestError) as caught:
        await reader_of(readers, schema=MIA_SCHEMA).read(command(payload))
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"key": "s", "value": {"messagePayload": {}}}',
            "value: Object missing required field `messageLabel`",
        ),
        (b'{"value": {"messageLabel": "x", "messagePayload": {}}}', "Object missing required field `key`"),
        (b"{not json", "body: "),
    ],
)
async def test_a_malformed_command_is_named(readers: list[SagaReader], body: bytes, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        await reader_of(readers, schema=MIA_SCHEMA).read(body)
    assert caught.value.message.startswith(message)


async def test_get_template_id_replaces_the_schemas_template_id_and_get_data_makes_the_data(
    readers: list[SagaReader],
) -> None:
    reader = reader_of(
        readers,
        schema=MIA_SCHEMA,
        get_template_id=source("getTemplateIdFilePath", MIA_GET_TEMPLATE_ID_EXAMPLE),
        get_data=source("getDataFilePath", MIA_GET_DATA_EXAMPLE),
    )
    payload = {
        "notifications": {"channels": "email"},
        "buyer": {"name": "u1"},
        "notification": {"channel": "ignored"},
        "amount": 12.5,
    }
    _, request = await reader.read(command(payload, label=TEMPLATE_ID))
    assert request.template_id == TEMPLATE_ID  # Mia's example returns the command's messageLabel
    assert request.data["value"]["messagePayload"]["amount"] == "12.50"
    assert request.data["key"] == "saga-7"


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (
            "module.exports = (e) => { throw new TypeError('no label ' + e.key) }",
            "TypeError: no label saga-7",
        ),
        ("module.exports = () => ['a']", "returned an array, not a template id (a string)"),
        (
            "module.exports = () => { for (;;) {} }",
            "ran longer than its time limit (0.3 s of CPU) and was stopped",
        ),
    ],
)
async def test_a_failing_script_is_a_400_naming_the_file(
    readers: list[SagaReader], script: str, reason: str
) -> None:
    reader = reader_of(readers, schema=MIA_SCHEMA, get_template_id=source("getTemplateIdFilePath", script))
    payload = {"notifications": {"channels": "email"}, "buyer": {"name": "u1"}}
    with pytest.raises(RequestError) as caught:
        await reader.read(command(payload))
    assert caught.value.status_code == 400
    assert caught.value.message == (
        f"flowManagerConfiguration.getTemplateIdFilePath (/config/getTemplateIdFilePath.js): {reason}"
    )


async def test_get_data_must_return_an_object(readers: list[SagaReader]) -> None:
    reader = reader_of(
        readers, schema=MIA_SCHEMA, get_data=source("getDataFilePath", "module.exports = () => 'x'")
    )
    with pytest.raises(RequestError, match=r"getDataFilePath.js\): returned a string, not an object"):
        await reader.read(command({"notifications": {"channels": "email"}}))


async def test_without_a_schema_the_payload_is_a_send_body_as_before(readers: list[SagaReader]) -> None:
    payload = {"channels": ["email"], "recipients": ["u1"], "messageTitle": "T", "messageContent": "C"}
    payload["data"] = {"x": 1}
    key, request = await reader_of(readers).read(command(payload))
    assert (key, request.channels, request.data) == ("saga-7", ["email"], {"x": 1})
    with pytest.raises(RequestError, match=r"^value.messagePayload.channels: "):
        await reader_of(readers).read(command({"channels": "email"}))


async def test_without_a_schema_get_template_id_still_applies(readers: list[SagaReader]) -> None:
    reader = reader_of(readers, get_template_id=source("getTemplateIdFilePath", MIA_GET_TEMPLATE_ID_EXAMPLE))
    payload = {"channels": ["email"], "recipients": ["u1"], "templateId": "not-this-one"}
    _, request = await reader.read(command(payload, label=TEMPLATE_ID))
    assert request.template_id == TEMPLATE_ID


@pytest.mark.parametrize(
    ("body", "key"),
    [(command({}), "saga-7"), (b'{"key": 3}', None), (b"[1]", None), (b"nope", None), (b'{"key": "k"}', "k")],
)
def test_the_saga_key_is_read_leniently_for_the_fail_event(body: bytes, key: str | None) -> None:
    assert saga_key(body) == key
