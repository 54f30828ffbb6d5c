"""Localised templates: the user's locale picks the variant (``it-IT`` → ``it`` → default), and dates."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.stacks import Stack

WHEN = "2025-03-05T10:00:00Z"


async def test_one_dispatch_delivers_each_user_their_variant_with_local_dates(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    body = {
        "name": unique("localised"),
        "emailTitle": "Hello {{ user.name }}",
        "emailMessage": "See you on {{ formatDate(data.when, 'long') }}.",
        "locales": {
            "it": {
                "emailTitle": "Ciao {{ user.name }}",
                "emailMessage": "Ci vediamo il {{ formatDate(data.when, 'long') }}.",
            },
            "de": {"emailTitle": "Hallo {{ user.name }}"},
        },
    }
    created = await stack.client.post("/templates", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["locales"]["de"] == {"emailTitle": "Hallo {{ user.name }}"}
    stored = await stack.db["templates"].find_one({"name": body["name"]})
    assert stored["locales"]["it"]["email_title"] == "Ciao {{ user.name }}"

    users = {
        "it-IT": "Mario",  # → the it variant
        "de-DE": "Greta",  # → the de variant (only the title differs)
        "fr-FR": "Zoé",  # no variant: the default fields, French dates
        "xx-nonsense": "Ann",  # not a locale at all: the default, in the default locale
    }
    ids = {}
    for locale, name in users.items():
        ids[locale] = unique(f"LOC{locale}").upper()
        await stack.add_users(
            {
                "fiscalCode": ids[locale],
                "mail": f"{ids[locale].lower()}@example.test",
                "name": name,
                "locale": locale,
            }
        )
    sent = await stack.send(
        {
            "channels": ["email"],
            "recipients": list(ids.values()),
            "templateId": body["name"],
            "data": {"when": WHEN},
        }
    )
    await stack.wait_settled(sent["dispatchId"])
    deliveries = await stack.deliveries(sent["dispatchId"])
    assert [d["status"] for d in deliveries] == ["sent"] * 4, deliveries

    def mail(locale: str) -> tuple[str, str]:
        [received] = stack.mails_to(f"{ids[locale].lower()}@example.test")
        return received.message["Subject"], received.message.get_content().strip()

    assert mail("it-IT") == ("Ciao Mario", "Ci vediamo il 5 marzo 2025.")
    assert mail("de-DE") == ("Hallo Greta", "See you on 5. März 2025.")
    assert mail("fr-FR") == ("Hello Zoé", "See you on 5 mars 2025.")
    assert mail("xx-nonsense") == ("Hello Ann", "See you on March 5, 2025.")


async def test_variants_are_compiled_on_save(stack: Stack, unique: Callable[[str], str]) -> None:
    body = {
        "name": unique("badvariant"),
        "emailTitle": "Hi",
        "locales": {"it-IT": {"emailTitle": "Ciao\n{% if %}"}},
    }
    refused = await stack.client.post("/templates", json=body)
    assert refused.status_code == 400
    assert "locales.it-IT.emailTitle, line 2" in refused.json()["message"]
    unknown = await stack.client.post(
        "/templates", json={**body, "locales": {"klingon-XX": {"emailTitle": "x"}}}
    )
    assert unknown.status_code == 400 and "locales.klingon-XX" in unknown.json()["message"]
