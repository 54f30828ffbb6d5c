"""The saga events, as Mia's configuration asks for them: each one only when its label is configured."""

from __future__ import annotations

import json
from pathlib import Path

from host.events.flow_manager import FlowManagerNotifier
from host.settings import load_settings
from tests.fakes.flow_manager import FlowManager
from tests.mia_documents import mia_configuration_json


def notifier_for(tmp_path: Path, url: str, **labels: str) -> FlowManagerNotifier:
    config = json.loads(mia_configuration_json())
    saga = config["flowManagerConfiguration"]
    del saga["successEventLabel"], saga["failEventLabel"]
    saga.update(labels, serviceUrl=url)
    path = tmp_path / "configuration.json"
    path.write_text(json.dumps(config))
    return FlowManagerNotifier(load_settings({"CONFIGURATION_PATH": str(path)}), first_delay=0.01)


async def test_the_service_url_receives_both_events_in_the_flow_managers_shape(tmp_path: Path) -> None:
    with FlowManager() as fake:
        notifier = notifier_for(tmp_path, fake.url, successEventLabel="sent", failEventLabel="failed")
        notifier.notify("saga-1", success=True)
        notifier.notify("saga-2", success=False)
        await notifier.drain()
        assert sorted(fake.events, key=lambda e: e["key"]) == [
            {"key": "saga-1", "value": {"messageLabel": "sent", "messagePayload": {}}},
            {"key": "saga-2", "value": {"messageLabel": "failed", "messagePayload": {}}},
        ]
        assert fake.rejected == []


async def test_an_event_without_its_label_is_not_sent(tmp_path: Path) -> None:
    with FlowManager() as fake:
        notifier = notifier_for(tmp_path, fake.url, successEventLabel="sent")
        notifier.notify("saga-3", success=False)  # no failEventLabel: Mia sends nothing
        notifier.notify("saga-4", success=True)
        await notifier.drain()
        assert fake.events == [{"key": "saga-4", "value": {"messageLabel": "sent", "messagePayload": {}}}]
