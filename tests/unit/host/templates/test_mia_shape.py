"""Mia's template documents and Tidings': the conversion both ways, and what cannot be carried over."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from bson import ObjectId

from host.errors import RenderError
from host.templates.mia_shape import from_mia, is_public, mia_update
from host.templates.push_data import check_push_data, parse_push_data
from host.templates.rendering import Renderer

WHEN = datetime(2024, 5, 23, tzinfo=UTC)


def test_a_documented_template_converts_field_by_field() -> None:
    oid = ObjectId()
    converted = from_mia(
        {
            "_id": oid,
            "name": "appointment",
            "emailTitle": "Hello {{user.name}}",
            "emailMessage": "text",
            "emailHtmlMessage": "<p>html</p>",
            "emailAttachments": [{"file": "a.pdf", "name": "Terms.pdf"}, "legacy.pdf"],
            "smsMessage": "sms",
            "voiceMessage": "voice",
            "pushTitle": "title",
            "pushSubtitle": "subtitle",
            "pushMessage": "message",
            "pushData": '{"android": {"priority": "high"}}',
            "__STATE__": "PUBLIC",
            "creatorId": "c",
            "createdAt": WHEN,
            "updaterId": "u",
            "updatedAt": WHEN,
        }
    )
    assert converted.problems == []
    t = converted.template
    assert t["_id"] is oid and t["name"] == "appointment" and t["syntax"] == "handlebars"
    assert (t["email_title"], t["email_message"], t["email_html_message"]) == (
        "Hello {{user.name}}",
        "text",
        "<p>html</p>",
    )
    assert (t["sms_message"], t["voice_message"]) == ("sms", "voice")
    assert (t["push_title"], t["push_subtitle"], t["push_message"]) == ("title", "subtitle", "message")
    assert t["email_attachments"] == [{"file": "a.pdf", "name": "Terms.pdf"}, {"file": "legacy.pdf"}]
    assert t["push_data"] == '{"android": {"priority": "high"}}'
    assert (t["version"], t["updated_by"], t["created_at"], t["updated_at"]) == (1, "u", WHEN, WHEN)


def test_what_cannot_be_converted_is_reported_one_line_each() -> None:
    oid = ObjectId()
    converted = from_mia(
        {
            "_id": oid,
            "smsMessage": 42,
            "emailAttachments": [{"name": "no file"}],
            "pushData": "{not json",
            "legacyField": True,
        }
    )
    t = converted.template
    assert t["name"] == str(oid) and t["sms_message"] is None and t["email_attachments"] == []
    assert converted.problems == [
        "name: missing: the template is named by its id",
        "smsMessage: not a string (int): left out",
        "emailAttachments[0]: no file name (the Files Service's 'file'): left out",
        "pushData: not valid JSON (Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)): kept, its pushes will fail",
        "fields Tidings does not know, left out: legacyField",
    ]


def test_writing_back_is_mias_shape_with_cleared_fields_unset() -> None:
    values, unset = mia_update(
        {
            "name": "n",
            "email_title": "t",
            "sms_message": None,
            "push_data": {"kind": "x"},
            "syntax": "handlebars",
            "version": 3,
            "updated_by": "ops",
            "updated_at": WHEN,
            "locales": {"it": {"email_title": "ciao"}},
        }
    )
    assert values["emailTitle"] == "t" and json.loads(values["pushData"]) == {"kind": "x"}
    assert values["locales"] == {"it": {"emailTitle": "ciao"}}
    assert (values["version"], values["updaterId"], values["updatedAt"]) == (3, "ops", WHEN)
    assert "smsMessage" in unset and "smsMessage" not in values and "__STATE__" not in values


@pytest.mark.parametrize(
    ("doc", "public"), [({}, True), ({"__STATE__": "PUBLIC"}, True), ({"__STATE__": "TRASH"}, False)]
)
def test_only_public_documents_or_those_without_a_state_are_live(doc: dict[str, str], public: bool) -> None:
    assert is_public(doc) is public


def test_push_data_parses_only_to_an_object_and_names_the_field() -> None:
    assert parse_push_data('{"a": 1}') == {"a": 1}
    assert parse_push_data("  ") == {}
    with pytest.raises(RenderError, match=r"^pushData: not valid JSON after rendering"):
        parse_push_data('{"kind": visit}')
    with pytest.raises(RenderError, match=r"^locales.it.pushData: must be a JSON object, not list"):
        parse_push_data("[1]", "locales.it.pushData")


def test_push_data_is_checked_when_saved() -> None:
    renderer = Renderer()
    check_push_data(renderer, '{"kind": "{{data.kind}}"}', "handlebars")  # interpolated: parsed per user
    check_push_data(renderer, {"kind": "fixed"}, "handlebars")
    with pytest.raises(RenderError, match=r"^pushData: not valid JSON"):
        check_push_data(renderer, '{"kind": }', "handlebars")
    with pytest.raises(RenderError, match=r"^pushData, line 1: "):
        check_push_data(renderer, '{"kind": "{{#if data.x}}"}', "handlebars")
