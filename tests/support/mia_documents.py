"""Mia's own documents, as its 13.x pages (``runtime_suite/messaging-service/``) publish them.

Kept verbatim so that the tests prove Tidings reads what a Mia deployment already has. The configuration
page's example has a trailing comma after ``"templateId"``, which is not JSON (Node would refuse it
too): :func:`mia_configuration_json` drops that comma, and only it.
"""

from __future__ import annotations

__all__ = [
    "MIA_COMPILED_EXAMPLE",
    "MIA_CONFIGURATION_EXAMPLE",
    "MIA_GET_DATA_EXAMPLE",
    "MIA_GET_TEMPLATE_ID_EXAMPLE",
    "MIA_MESSAGE_EXAMPLE",
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


#: the interpolation example of the overview page (10_overview.md, Messages interpolation): this message,
#: for the user ``{"name": "Mario", "surname": "Rossi"}`` and the data
#: ``{"appointmentDate": "01/01/2021", "serviceAmount": 1234567.89}`` ...
MIA_MESSAGE_EXAMPLE = (
    "Hello, {{user.name}}! You have a new appointment on {{data.appointmentDate}} "
    'and you are going to pay ${{toLocale data.serviceAmount "en-US"}}'
)
#: ... "will be compiled in"
MIA_COMPILED_EXAMPLE = (
    "Hello, Mario! You have a new appointment on 01/01/2021 and you are going to pay $1,234,567.89"
)


def mia_configuration_json() -> str:
    """The configuration example with its one trailing comma removed: valid JSON, otherwise untouched."""
    fixed = MIA_CONFIGURATION_EXAMPLE.replace(
        '"templateId": "notification.channel",\n', '"templateId": "notification.channel"\n'
    )
    assert fixed.count(",") == MIA_CONFIGURATION_EXAMPLE.count(",") - 1
    return fixed
