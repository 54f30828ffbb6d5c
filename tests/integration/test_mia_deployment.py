"""A Mia Messaging Service deployment moved to Tidings unchanged (issue 12, "What it must show").

Two deployments, each with a users and a templates collection shaped as Mia's configuration page
documents them (a CRUD: ObjectId ``_id``, ``__STATE__``, ``creatorId``/``createdAt``; templates in
camelCase, ``pushData`` a JSON string):

- ``verbatim``: Tidings started with the configuration example of Mia's 13.x page as it is (its one
  trailing comma dropped, since it is not JSON). E-mail and push (a Web Push subscriber and an FCM token)
  by ``templateId``, and ``/saga/send`` through the example's own ``metadataSchema``.
- ``extended``: the same example as a real deployment grows it: every channel (SMS through Twilio, voice
  through Kaleyra, as Mia calls), a ``getTemplateId`` script and Mia's documented ``getData`` script;
  no FCM credentials, so an FCM token fails alone.

Every message is read at its protocol peer (SMTP sink, Web Push service decrypting the payload, fake FCM,
fake Twilio, fake Kaleyra), and the Flow Manager fake receives the saga events. Mia's messages are
Handlebars with its helpers: ``#if (eq ...)``, ``dateFormat``, ``toLocale`` (Mia's overview example).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId

from host.storage.devdb import DevDatabase
from tests.fakes.fcm import FakeFcm
from tests.fakes.flow_manager import FlowManager
from tests.fakes.kaleyra import FakeKaleyra
from tests.fakes.push import PushService
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import FakeTwilio
from tests.services import RedisServer
from tests.support.configs import TWILIO_SENDER
from tests.support.mia_documents import (
    MIA_COMPILED_EXAMPLE,
    MIA_GET_DATA_EXAMPLE,
    MIA_MESSAGE_EXAMPLE,
    mia_configuration_json,
)
from tests.support.stacks import Stack, open_stack

USERS, TEMPLATES = "citizens", "message_templates"  # USERS_CRUD_NAME, TEMPLATES_CRUD_NAME
INTENT = "eu.miaplatform.fakeactivity"  # the example's androidIntentAction
KALEYRA_NUMBER = "+390212345678"  # registered in the Kaleyra console (the fake's bridge)
WHEN = datetime(2024, 5, 23, 9, 30, tzinfo=UTC)


def crud(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as Mia's CRUD Service stores it."""
    return {
        "_id": ObjectId(),
        "__STATE__": "PUBLIC",
        "creatorId": "backoffice",
        "createdAt": WHEN,
        "updaterId": "backoffice",
        "updatedAt": WHEN,
        **doc,
    }


#: the appointment template of Mia's overview page, on every channel
APPOINTMENT = {
    "name": "appointment",
    # toLocale without a locale: the user's, else DEFAULT_LOCALE (it-IT on the verbatim deployment)
    "emailTitle": "Appuntamento per {{user.name}} {{user.surname}}: € {{toLocale data.serviceAmount}}",
    "emailHtmlMessage": (
        "<p>Hello, {{user.name}}! You have a new appointment on {{data.appointmentDate}}.</p>"
        '{{#if (eq data.type "patients")}}<p>{{data.firstName}} {{data.lastName}}</p>{{/if}}'
    ),
    "emailMessage": MIA_MESSAGE_EXAMPLE,
    "smsMessage": (
        "Hello, {{user.name}}! Appointment on "
        "{{dateFormat data.startDate format='DD/MM/YYYY' tz='Europe/Rome'}}"
    ),
    "voiceMessage": "Hello {{user.name}}, your appointment is on {{data.appointmentDate}}",
    "pushTitle": "Appointment {{data.appointmentDate}}",
    "pushSubtitle": "{{user.surname}}",
    "pushMessage": "Hello, {{user.name}}!",
    "pushData": (
        '{"kind": "appointment", "date": "{{data.appointmentDate}}",'
        ' "android": {"priority": "high", "notification": {"channel_id": "visits"}},'
        ' "apns": {"headers": {"apns-priority": "10"}}}'
    ),
}
DATA = {
    "appointmentDate": "01/01/2021",
    "serviceAmount": 1234567.89,
    "type": "patients",
    "firstName": "Anna",
    "lastName": "Bianchi",
    "startDate": "2021-01-01T23:30:00Z",
}


@pytest.fixture(scope="module")
def flow_manager() -> Iterator[FlowManager]:
    with FlowManager() as fake:
        yield fake


@pytest.fixture(scope="module")
def fcm() -> Iterator[FakeFcm]:
    with FakeFcm() as fake:
        yield fake


@pytest.fixture(scope="module")
def kaleyra() -> Iterator[FakeKaleyra]:
    with FakeKaleyra(bridges={KALEYRA_NUMBER.removeprefix("+")}) as fake:
        yield fake


@pytest.fixture(scope="module")
async def verbatim(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    stack: Stack,
    flow_manager: FlowManager,
    fcm: FakeFcm,
    vapid_keys: tuple[str, str],
) -> AsyncIterator[Stack]:
    """Tidings on Mia's documented configuration, as it is."""
    folder = tmp_path_factory.mktemp("mia-verbatim")
    (folder / "mia-configuration.json").write_text(mia_configuration_json())
    account = folder / "firebase.json"
    account.write_text(json.dumps(fcm.service_account("mia-app")))
    async with open_stack(
        folder,
        devdb,
        redis_server,
        smtp_sink,
        {"activeChannels": ["email"]},  # not used: CONFIGURATION_PATH names Mia's file
        database="tidings_mia_verbatim",
        redis_db=6,
        session_stack=stack,
        CONFIGURATION_PATH=str(folder / "mia-configuration.json"),
        USERS_CRUD_NAME=USERS,
        TEMPLATES_CRUD_NAME=TEMPLATES,
        FLOW_MANAGER_URL=flow_manager.url,  # the example's http://flow-manager-service, here
        VAPID_PRIVATE_KEY=vapid_keys[0],
        VAPID_SUBJECT="mailto:ops@tidings.test",
        GOOGLE_APPLICATION_CREDENTIALS=str(account),
        FCM_API_BASE=fcm.url,
        DEFAULT_LOCALE="it-IT",
    ) as opened:
        yield opened


def extended_configuration() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(mia_configuration_json())
    config["activeChannels"] = ["email", "sms", "voice", "push"]
    config["sender"].update(sms=TWILIO_SENDER, voice=KALEYRA_NUMBER)
    config["flowManagerConfiguration"].update(
        getTemplateIdFilePath="getTemplateId.js",  # beside the configuration file
        getDataFilePath="getData.js",
        metadataSchema={
            "channels": "notifications.channels",
            "recipients": ["buyer.fiscalCode", "seller.fiscalCode"],
            "clusters": "notifications.groups",
        },
    )
    # Mia calls through Kaleyra; SMS here through Twilio (Mia's SMS Service offers it)
    config["channels"] = {"voice": {"providers": [{"name": "kaleyra", "type": "kaleyra"}]}}
    config["scriptLimits"] = {"timeLimitSeconds": 0.5}
    return config


#: the deployment's getTemplateId: a label → template table, and one label that never returns
GET_TEMPLATE_ID = """// chooses the template from the command's label
const TEMPLATES = { orderShipped: "%s" };
module.exports = function getTemplateId(event) {
  const label = event.value.messageLabel;
  if (label === "stuck") { while (true) {} }
  if (!(label in TEMPLATES)) { throw new Error("no template for " + label); }
  return TEMPLATES[label];
};
"""

SHIPPED = {
    "name": "order shipped",
    "emailTitle": "Order {{data.value.messagePayload.orderId}} shipped",
    "emailMessage": "Hello {{user.name}}, you pay {{data.value.messagePayload.amount}} EUR.",
    "smsMessage": (
        "{{user.name}}: order {{data.value.messagePayload.orderId}}, {{data.value.messagePayload.amount}} EUR"
    ),
    "voiceMessage": "Your order {{data.value.messagePayload.orderId}} has shipped",
    "pushMessage": "Order {{data.value.messagePayload.orderId}} shipped",  # no pushTitle: optional
    "pushData": '{"order": "{{data.value.messagePayload.orderId}}"}',
}


@pytest.fixture(scope="module")
async def extended(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    stack: Stack,
    flow_manager: FlowManager,
    fake_twilio: FakeTwilio,
    kaleyra: FakeKaleyra,
    vapid_keys: tuple[str, str],
) -> AsyncIterator[Stack]:
    """Mia's example grown into a deployment on every channel, with both scripts; no FCM credentials."""
    folder = tmp_path_factory.mktemp("mia-extended")
    shipped = crud(SHIPPED)
    (folder / "getTemplateId.js").write_text(GET_TEMPLATE_ID % shipped["_id"])
    (folder / "getData.js").write_text(MIA_GET_DATA_EXAMPLE)
    (folder / "mia-configuration.json").write_text(json.dumps(extended_configuration()))
    async with open_stack(
        folder,
        devdb,
        redis_server,
        smtp_sink,
        {"activeChannels": ["email"]},
        database="tidings_mia_extended",
        redis_db=7,
        session_stack=stack,
        CONFIGURATION_PATH=str(folder / "mia-configuration.json"),
        USERS_CRUD_NAME=USERS,
        TEMPLATES_CRUD_NAME=TEMPLATES,
        FLOW_MANAGER_URL=flow_manager.url,
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_API_BASE=fake_twilio.url,
        **kaleyra.environ(),  # KALEYRA_API_KEY and KALEYRA_SID, Mia's names
        VAPID_PRIVATE_KEY=vapid_keys[0],
        VAPID_SUBJECT="mailto:ops@tidings.test",
    ) as opened:
        await opened.db[TEMPLATES].insert_one(shipped)
        yield opened


def citizen(uid: str, name: str, surname: str, **fields: Any) -> dict[str, Any]:
    """A user of Mia's users CRUD, fields mapped as the example maps them (fiscalCode, mail, groups)."""
    return crud({"fiscalCode": uid, "name": name, "surname": surname, "mail": f"{uid}@example.org", **fields})


async def events_for(fake: FlowManager, saga_id: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while not (found := [e for e in fake.events if e["key"] == saga_id]):
        assert time.monotonic() < deadline, f"no event for {saga_id}: {fake.events}"
        await asyncio.sleep(0.02)
    return found


def saga(key: str, label: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": {"messageLabel": label, "messagePayload": payload}}


async def test_send_by_template_id_over_email_and_push_on_the_verbatim_configuration(
    verbatim: Stack,
    push_service: PushService,
    fcm: FakeFcm,
    vapid_keys: tuple[str, str],
    unique: Callable[[str], str],
) -> None:
    template = crud(APPOINTMENT)
    await verbatim.db[TEMPLATES].insert_one(template)
    browser, phone = unique("RSSMRA80A01H501U"), unique("VRDLGI75B02F205X")
    subscription = push_service.subscribe(application_server_key=vapid_keys[1])
    token = fcm.register_device()
    await verbatim.add_users(
        citizen(browser, "Mario", "Rossi", groups=["patients"], deviceToken=json.dumps(subscription)),
        citizen(phone, "Luigi", "Verdi", groups=["patients"], deviceToken=token),
    )
    result = await verbatim.send(
        {
            "channels": ["email", "push"],
            "recipients": [browser, phone],
            "templateId": str(template["_id"]),
            "data": DATA,
        }
    )
    assert result["failures"] == []
    view = await verbatim.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 2}, "push": {"sent": 2}}

    [mail] = verbatim.mails_to(f"{browser}@example.org")
    assert mail.message["Subject"] == "Appuntamento per Mario Rossi: € 1.234.567,89"
    assert mail.message["From"] == "email@test.com"  # the example's sender.email
    html = mail.message.get_body(("html",)).get_content()
    assert "<p>Hello, Mario! You have a new appointment on 01/01/2021.</p><p>Anna Bianchi</p>" in html
    assert (
        mail.message.get_body(("plain",)).get_content().strip() == MIA_COMPILED_EXAMPLE
    )  # Mia's own example

    [web] = push_service.delivered(subscription)
    assert web.json() == {
        "title": "Appointment 01/01/2021",
        "subtitle": "Rossi",
        "body": "Hello, Mario!",
        "data": {
            "kind": "appointment",
            "date": "01/01/2021",
            "android": {"priority": "high", "notification": {"channel_id": "visits"}},
            "apns": {"headers": {"apns-priority": "10"}},
        },
        "androidIntentAction": INTENT,
    }
    [native] = fcm.delivered(token)
    assert native.message == {
        "token": token,
        "notification": {"title": "Appointment 01/01/2021", "body": "Hello, Luigi!"},
        "data": {"kind": "appointment", "date": "01/01/2021"},
        "android": {"priority": "high", "notification": {"channel_id": "visits", "click_action": INTENT}},
        "apns": {
            "headers": {"apns-priority": "10"},
            "payload": {"aps": {"alert": {"subtitle": "Verdi"}}},
        },
    }


async def test_saga_through_the_examples_metadata_schema_sends_and_reports_success(
    verbatim: Stack, flow_manager: FlowManager, unique: Callable[[str], str]
) -> None:
    template = crud(
        {
            "name": unique("saga-template"),
            "emailTitle": "Order {{data.value.messagePayload.orderId}}",
            "emailMessage": "{{user.name}}, saga {{data.key}} says: {{data.value.messageLabel}}",
        }
    )
    await verbatim.db[TEMPLATES].insert_one(template)
    buyer = unique("BNCLRA90C43L219K")
    await verbatim.add_users(citizen(buyer, "Clara", "Bianchi"))
    key = unique("saga")
    payload = {
        "notifications": {"channels": ["email"]},  # metadataSchema.channels
        "buyer": {"name": buyer},  # metadataSchema.recipients: "buyer.name"
        "notification": {"channel": str(template["_id"])},  # metadataSchema.templateId
        "orderId": "A-17",
    }
    response = await verbatim.client.post("/saga/send", json=saga(key, "notifyBuyer", payload))
    assert (response.status_code, response.content) == (200, b"")
    assert await events_for(flow_manager, key) == [
        {"key": key, "value": {"messageLabel": "notificationSent", "messagePayload": {}}}
    ]
    dispatch = await verbatim.db["dispatches"].find_one({"saga_id": key})
    assert dispatch is not None
    await verbatim.wait_settled(dispatch["_id"])
    [mail] = verbatim.mails_to(f"{buyer}@example.org")
    assert mail.message["Subject"] == "Order A-17"  # without getDataFilePath the command is the data
    assert mail.message.get_content().strip() == f"Clara, saga {key} says: notifyBuyer"


async def test_a_saga_the_schema_cannot_read_gets_the_fail_event(
    verbatim: Stack, flow_manager: FlowManager, unique: Callable[[str], str]
) -> None:
    key = unique("saga-bad")
    response = await verbatim.client.post(
        "/saga/send", json=saga(key, "notifyBuyer", {"buyer": {"name": "x"}})
    )
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": "400",
        "error": "Bad request",
        "message": "channels (messagePayload.notifications.channels): not found in the command",
    }
    assert await events_for(flow_manager, key) == [
        {"key": key, "value": {"messageLabel": "notificationFailed", "messagePayload": {}}}
    ]


async def test_push_data_that_is_not_json_once_rendered_fails_that_push_only(
    verbatim: Stack, push_service: PushService, vapid_keys: tuple[str, str], unique: Callable[[str], str]
) -> None:
    broken = crud(
        {
            "name": unique("broken-push"),
            "emailTitle": "Fine",
            "emailMessage": "Fine",
            "pushMessage": "Hi",
            "pushData": '{"kind": {{data.kind}} }',  # the value is not quoted: not JSON after rendering
        }
    )
    await verbatim.db[TEMPLATES].insert_one(broken)
    uid = unique("PSHBRK")
    subscription = push_service.subscribe(application_server_key=vapid_keys[1])
    await verbatim.add_users(citizen(uid, "Pia", "Neri", deviceToken=subscription))
    result = await verbatim.send(
        {
            "channels": ["email", "push"],
            "recipients": [uid],
            "templateId": str(broken["_id"]),
            "data": {"kind": "visit"},
        }
    )
    view = await verbatim.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}, "push": {"failed": 1}}
    [push] = [d for d in await verbatim.deliveries(result["dispatchId"]) if d["channel"] == "push"]
    assert push["lastError"]["code"] == "render"
    assert push["lastError"]["message"].startswith("pushData: not valid JSON after rendering")
    assert push_service.delivered(subscription) == []
    assert len(verbatim.mails_to(f"{uid}@example.org")) == 1


async def test_send_by_template_id_over_sms_and_voice(
    extended: Stack, fake_twilio: FakeTwilio, kaleyra: FakeKaleyra, unique: Callable[[str], str]
) -> None:
    template = crud(APPOINTMENT)
    await extended.db[TEMPLATES].insert_one(template)
    uid = unique("SMSVOC")
    number = "+393471234567"
    await extended.add_users(citizen(uid, "Mario", "Rossi", phoneNumber=number))
    result = await extended.send(
        {"channels": ["sms", "voice"], "recipients": [uid], "templateId": str(template["_id"]), "data": DATA}
    )
    assert result["failures"] == []
    view = await extended.wait_settled(result["dispatchId"])
    assert view["counts"] == {"sms": {"sent": 1}, "voice": {"sent": 1}}
    [sms] = [m for m in fake_twilio.messages if m.to == number and m.body and "Appointment on" in m.body]
    assert sms.body == "Hello, Mario! Appointment on 02/01/2021"  # 23:30 UTC is the 2nd in Rome
    assert sms.from_ == TWILIO_SENDER
    [call] = [c for c in kaleyra.calls if c.to == number.removeprefix("+")]
    assert call.target() == [{"message": "Hello Mario, your appointment is on 01/01/2021"}]
    assert call.form["bridge"] == KALEYRA_NUMBER.removeprefix("+")


async def test_saga_with_scripts_reaches_every_channel_and_reports_success(
    extended: Stack,
    flow_manager: FlowManager,
    fake_twilio: FakeTwilio,
    kaleyra: FakeKaleyra,
    push_service: PushService,
    vapid_keys: tuple[str, str],
    unique: Callable[[str], str],
) -> None:
    buyer, seller = unique("BUYER"), unique("SELLER")
    subscription = push_service.subscribe(application_server_key=vapid_keys[1])
    await extended.add_users(
        citizen(buyer, "Ada", "Lovelace", phoneNumber="+393470000001", deviceToken=subscription),
        citizen(seller, "Alan", "Turing", phoneNumber="+393470000002"),
    )
    key = unique("saga-shipped")
    payload = {
        "notifications": {"channels": ["email", "sms", "voice", "push"]},
        "buyer": {"fiscalCode": buyer},
        "seller": {"fiscalCode": seller},
        "orderId": "B-42",
        "amount": 12.5,
    }
    response = await extended.client.post("/saga/send", json=saga(key, "orderShipped", payload))
    assert (response.status_code, response.content) == (200, b"")
    assert await events_for(flow_manager, key) == [
        {"key": key, "value": {"messageLabel": "notificationSent", "messagePayload": {}}}
    ]
    dispatch = await extended.db["dispatches"].find_one({"saga_id": key})
    assert dispatch is not None
    view = await extended.wait_settled(dispatch["_id"])
    # the seller has no push token: that delivery is skipped, the rest is sent
    assert view["counts"] == {
        "email": {"sent": 2},
        "sms": {"sent": 2},
        "voice": {"sent": 2},
        "push": {"sent": 1, "skipped": 1},
    }
    [mail] = extended.mails_to(f"{buyer}@example.org")
    assert mail.message["Subject"] == "Order B-42 shipped"
    assert mail.message.get_content().strip() == "Hello Ada, you pay 12.50 EUR."  # getData: toFixed(2)
    [sms] = [m for m in fake_twilio.messages if m.to == "+393470000002"]
    assert sms.body == "Alan: order B-42, 12.50 EUR"
    [call] = [c for c in kaleyra.calls if c.to == "393470000001"]
    assert call.target() == [{"message": "Your order B-42 has shipped"}]
    [push] = push_service.delivered(subscription)
    assert push.json()["title"] is None and push.json()["body"] == "Order B-42 shipped"
    assert push.json()["data"] == {"order": "B-42"}


async def test_a_script_that_loops_forever_is_cut_and_the_saga_fails_cleanly(
    extended: Stack, flow_manager: FlowManager, unique: Callable[[str], str]
) -> None:
    key = unique("saga-stuck")
    payload = {"notifications": {"channels": ["email"]}, "buyer": {"fiscalCode": "x"}}
    started = time.monotonic()
    response = await extended.client.post("/saga/send", json=saga(key, "stuck", payload))
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("flowManagerConfiguration.getTemplateIdFilePath (")
    assert "getTemplateId.js): ran longer than its time limit (0.5 s of CPU) and was stopped" in message
    assert time.monotonic() - started < 30  # cut, not hung
    assert await events_for(flow_manager, key) == [
        {"key": key, "value": {"messageLabel": "notificationFailed", "messagePayload": {}}}
    ]
    assert await extended.db["dispatches"].find_one({"saga_id": key}) is None  # nothing accepted
    # the engine survives the interruption: the next command is read as usual
    thrown = await extended.client.post(
        "/saga/send", json=saga(unique("saga-unknown"), "unknownLabel", payload)
    )
    assert thrown.status_code == 400 and thrown.json()["message"].endswith(
        "getTemplateId.js): Error: no template for unknownLabel"
    )


async def test_an_fcm_token_without_fcm_credentials_fails_alone_and_a_clusters_failures_are_complete(
    extended: Stack, push_service: PushService, vapid_keys: tuple[str, str], unique: Callable[[str], str]
) -> None:
    template = crud(APPOINTMENT)
    await extended.db[TEMPLATES].insert_one(template)
    group = unique("patients")
    browser, app, gone = unique("WEB"), unique("APP"), unique("GONE")
    subscription = push_service.subscribe(application_server_key=vapid_keys[1])
    await extended.add_users(
        citizen(browser, "Bea", "Web", groups=[group], deviceToken=subscription),
        citizen(app, "Ugo", "App", groups=[group], deviceToken="cXk9:APA91b" + "x" * 140),
        {**citizen(gone, "Tea", "Trash", groups=[group]), "__STATE__": "TRASH"},
    )
    result = await extended.send(
        {"channels": ["email", "push"], "clusters": [group], "templateId": str(template["_id"]), "data": DATA}
    )
    assert "expansion" not in result  # a small cluster: expanded in the request, its failures here
    [failure] = result["failures"]
    assert (failure["userId"], failure["channel"]) == (app, "push")
    assert (
        "FCM is not configured" in failure["error"] and "GOOGLE_APPLICATION_CREDENTIALS" in failure["error"]
    )
    view = await extended.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 2}, "push": {"sent": 1, "failed": 1}}
    assert len(push_service.delivered(subscription)) == 1
    assert extended.mails_to(f"{gone}@example.org") == []  # soft-deleted in the CRUD: not a member
