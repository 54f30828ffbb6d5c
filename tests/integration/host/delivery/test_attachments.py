"""E-mail attachments end to end: template + request files fetched from a real (fake) file service."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from bson import ObjectId

from host.delivery.attachments import AttachmentFetcher
from host.errors import PermanentChannelError
from host.storage.devdb import DevDatabase
from tests.fakes.files import FileService
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import Stack, open_stack


@pytest.fixture(scope="module")
def files() -> Iterator[FileService]:
    with FileService() as service:
        yield service


@pytest.fixture(scope="module")
async def files_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    files: FileService,
    stack: Stack,
) -> AsyncIterator[Stack]:
    """A Tidings stack with a file service (the session stack has none)."""
    async with open_stack(
        tmp_path_factory.mktemp("files-stack"),
        devdb,
        redis_server,
        smtp_sink,
        BASE_CONFIG,
        database="tidings_attachments",
        session_stack=stack,
        redis_db=1,
        FILE_SERVICE_URL=files.url,
    ) as stack:
        yield stack


async def _template(stack: Stack, name: str, attachments: list[dict[str, Any]]) -> str:
    result = await stack.db["templates"].insert_one(
        {
            "name": name,
            "syntax": "jinja",
            "email_title": "Documents for {{ user.name }}",
            "email_message": "Hello {{ user.name }}, the documents are attached.",
            "email_attachments": attachments,
        }
    )
    return str(result.inserted_id)


def _attachments(mail: Any) -> dict[str, tuple[str, bytes]]:
    return {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in mail.message.iter_attachments()
    }


async def test_template_and_request_attachments_arrive_byte_for_byte(
    files_stack: Stack, files: FileService, unique: Callable[[str], str]
) -> None:
    rules, photo = os.urandom(200_000), os.urandom(3_000)
    files.put(unique("rules") + ".bin", rules)
    files.put(unique("photo") + ".png", photo)
    uid = unique("ada")
    await files_stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org", "name": "Ada"})
    template_id = await _template(
        files_stack,
        unique("docs"),
        [{"file": unique("rules") + ".bin", "name": "../../etc/House\x07 rules.pdf"}],
    )
    result = await files_stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "templateId": template_id,
            "emailAttachments": [unique("photo") + ".png"],
        }
    )
    view = await files_stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}}
    [mail] = files_stack.mails_to(f"{uid}@example.org")
    assert mail.message["Subject"] == "Documents for Ada"
    assert _attachments(mail) == {
        "House rules.pdf": ("application/pdf", rules),
        unique("photo") + ".png": ("image/png", photo),
    }


async def test_a_file_over_15_mb_fails_the_delivery_naming_it(
    files_stack: Stack, files: FileService, unique: Callable[[str], str]
) -> None:
    big = unique("big") + ".zip"
    files.put(big, b"\0" * (16 * 1024 * 1024))
    uid = unique("bob")
    await files_stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    result = await files_stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "Big",
            "messageContent": "A big file",
            "emailAttachments": [big],
        }
    )
    view = await files_stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"failed": 1}}
    [delivery] = await files_stack.deliveries(result["dispatchId"])
    assert delivery["attempts"] == 1  # permanent: not retried
    assert big in delivery["lastError"]["message"]
    assert "larger than 15 MB" in delivery["lastError"]["message"]
    assert files_stack.mails_to(f"{uid}@example.org") == []


async def test_the_limit_is_15_mb_a_file_of_14_9_goes_one_of_15_1_does_not(
    files_stack: Stack, files: FileService, unique: Callable[[str], str]
) -> None:
    """README: "at most 15 MB each" (MB of 2^20 bytes, as the error message counts them)."""
    under, over = unique("under") + ".bin", unique("over") + ".bin"
    content = os.urandom(int(14.9 * 2**20))
    files.put(under, content)
    files.put(over, os.urandom(int(15.1 * 2**20)))
    users = {name: unique(name) for name in ("ann", "ben")}
    await files_stack.add_users(*({"fiscalCode": u, "mail": f"{u}@example.org"} for u in users.values()))
    results = {}
    for name, attachment in (("ann", under), ("ben", over)):
        results[name] = await files_stack.send(
            {
                "channels": ["email"],
                "recipients": [users[name]],
                "messageTitle": "Sizes",
                "messageContent": "One file",
                "emailAttachments": [attachment],
            }
        )
    accepted = await files_stack.wait_settled(results["ann"]["dispatchId"], timeout=60)
    assert accepted["counts"] == {"email": {"sent": 1}}
    [mail] = files_stack.mails_to(f"{users['ann']}@example.org")
    assert _attachments(mail) == {under: ("application/octet-stream", content)}
    refused = await files_stack.wait_settled(results["ben"]["dispatchId"], timeout=60)
    assert refused["counts"] == {"email": {"failed": 1}}
    [delivery] = await files_stack.deliveries(results["ben"]["dispatchId"])
    assert (
        over in delivery["lastError"]["message"] and "larger than 15 MB" in delivery["lastError"]["message"]
    )
    assert files_stack.mails_to(f"{users['ben']}@example.org") == []


async def test_a_missing_file_fails_the_delivery_naming_it(
    files_stack: Stack, files: FileService, unique: Callable[[str], str]
) -> None:
    missing = unique("missing") + ".pdf"
    uid = unique("cleo")
    await files_stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    result = await files_stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "Missing",
            "messageContent": "A missing file",
            "emailAttachments": [missing],
        }
    )
    view = await files_stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"failed": 1}}
    [delivery] = await files_stack.deliveries(result["dispatchId"])
    assert f"attachment {missing!r} not found" in delivery["lastError"]["message"]
    assert files_stack.mails_to(f"{uid}@example.org") == []


async def test_each_file_is_fetched_once_per_dispatch(
    files_stack: Stack, files: FileService, unique: Callable[[str], str]
) -> None:
    first, second = unique("one") + ".txt", unique("two") + ".csv"
    files.put(first, b"first file\n")
    files.put(second, b"a,b\n1,2\n")
    users = [unique(f"user{n}") for n in range(2)]
    await files_stack.add_users(*({"fiscalCode": u, "mail": f"{u}@example.org"} for u in users))
    result = await files_stack.send(
        {
            "channels": ["email"],
            "recipients": users,
            "messageTitle": "Twice",
            "messageContent": "Two recipients",
            "emailAttachments": [first, second],
        }
    )
    view = await files_stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 2}}
    assert (files.requests[first], files.requests[second]) == (1, 1)
    for user in users:
        [mail] = files_stack.mails_to(f"{user}@example.org")
        assert _attachments(mail) == {
            first: ("text/plain", b"first file\n"),
            second: ("text/csv", b"a,b\n1,2\n"),
        }


async def test_without_a_file_service_attachments_are_refused(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("dan")
    template_id = await _template(stack, unique("docs"), [{"file": "rules.pdf"}])
    response = await stack.client.post(
        "/send", json={"channels": ["email"], "recipients": [uid], "templateId": template_id}
    )
    assert response.status_code == 400
    assert "FILE_SERVICE_URL" in response.json()["message"]
    response = await stack.client.post(
        "/send",
        json={
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "t",
            "messageContent": "c",
            "emailAttachments": ["a.pdf"],
        },
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("emailAttachments: no file service")


#: names that are not one file on the file service: dot segments and separators, plain or encoded
PATH_LIKE = ["..", ".", "a/b", "/etc", "a\\b", "%2e%2e", "%2E.", "a%2Fb", "a%5cb", "%252e%252e", "x\x00.pdf"]


async def test_path_like_names_are_refused_when_a_send_is_accepted(
    files_stack: Stack, files: FileService
) -> None:
    seen = len(files.paths)
    for name in PATH_LIKE:
        body = {"channels": ["email"], "recipients": ["someone"], "messageTitle": "t", "messageContent": "c"}
        response = await files_stack.client.post("/send", json={**body, "emailAttachments": ["ok.pdf", name]})
        assert response.status_code == 400, (name, response.text)
        assert response.json()["message"].startswith(f"emailAttachments[1]: {name!r} is not a file name"), (
            name
        )
    assert files.paths[seen:] == []


async def test_path_like_names_are_refused_when_a_template_is_saved(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    for name in PATH_LIKE:
        body = {"name": unique("docs"), "emailTitle": "t", "emailMessage": "m"}
        body["emailAttachments"] = [{"file": "ok.pdf"}, {"file": name, "name": "shown.pdf"}]
        response = await stack.client.post("/templates", json=body)
        assert response.status_code == 400, (name, response.text)
        message = response.json()["message"]
        assert message.startswith(f"emailAttachments[1].file: {name!r} is not a file name"), message


async def test_the_fetch_refuses_path_like_names_too(files: FileService) -> None:
    """A dispatch or template stored before the checks existed: refused without a request."""
    fetcher = AttachmentFetcher(files.url)
    seen = len(files.paths)
    for name in PATH_LIKE:
        dispatch = {"_id": str(ObjectId()), "email": {"attachments": [name]}}
        with pytest.raises(PermanentChannelError) as caught:
            await fetcher.for_dispatch("email", dispatch, None)
        assert f"attachment {name!r} is not a file name" in caught.value.message, name
        template = {"email_attachments": [{"file": name}]}
        with pytest.raises(PermanentChannelError):
            await fetcher.for_dispatch("email", {"_id": str(ObjectId()), "email": {}}, template)
    assert files.paths[seen:] == []
