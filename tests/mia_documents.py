"""Mia's own documents, as its 13.x pages (``runtime_suite/messaging-service/``) publish them.

Kept verbatim so that the tests prove Tidings reads what a Mia deployment already has. The configuration
page's example has a trailing comma after ``"templateId"``, which is not JSON (Node would refuse it
too): :func:`mia_configuration_json` drops that comma, and only it.
"""

from __future__ import annotations

__all__ = [
    "MIA_CONFIGURATION_EXAMPLE",
    "MIA_GET_DATA_EXAMPLE",
    "MIA_GET_TEMPLATE_ID_EXAMPLE",
    "mia_configuration_json",
]

#: "It follows an example of a valid configuration file." (20_configuration.md, Service configuration)
MIA_CONFIGURATION_EXAMPLE = """{
  "userFields": {
    "id": "fiscalCode",
    "emailAddress": "mail",
    "clusters": "groups"
  },
  "activeChannels": [
    "email",
    "push"
  ],
  "sender": {
    "email": "email@test.com"
  },
  "androidIntentAction": "eu.miaplatform.fakeactivity",
  "flowManagerConfiguration": {
    "serviceUrl": "http://flow-manager-service",
    "successEventLabel": "notificationSent",
    "failEventLabel": "notificationFailed",
    "metadataSchema": {
      "channels": "notifications.channels",
      "recipients": "buyer.name",
      "templateId": "notification.channel",
    }
  }
}
"""

#: the example of ``getTemplateIdFilePath``'s file
MIA_GET_TEMPLATE_ID_EXAMPLE = """module.exports = function getTemplateId(event) {
  return event.value.messageLabel
}
"""

#: the example of ``getDataFilePath``'s file
MIA_GET_DATA_EXAMPLE = """module.exports = function getData(event) {
  return {
    ...event,
    value: {
      ...event.value,
      messagePayload: {
        ...event.value.messagePayload,
        amount: event.value.messagePayload.amount.toFixed(2),
      },
    },
  }
}
"""


def mia_configuration_json() -> str:
    """The configuration example with its one trailing comma removed: valid JSON, otherwise untouched."""
    fixed = MIA_CONFIGURATION_EXAMPLE.replace(
        '"templateId": "notification.channel",\n', '"templateId": "notification.channel"\n'
    )
    assert fixed.count(",") == MIA_CONFIGURATION_EXAMPLE.count(",") - 1
    return fixed
