"""The AsyncAPI 3.0 document of Attache's events, generated from the payload models.

`python -m attache_core.asyncapi > docs/asyncapi.json` regenerates the checked-in
copy; a test fails when the two differ, so the contract can't drift silently.
"""

from __future__ import annotations

import json
from typing import Any

from attache_core.events import EVENT_PAYLOADS, CloudEvent


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    envelope = CloudEvent.model_json_schema()
    envelope_props = {k: v for k, v in envelope["properties"].items() if k != "data"}
    for event_type, model in sorted(EVENT_PAYLOADS.items()):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        name = model.__name__
        messages[name] = {
            "name": event_type,
            "title": name,
            "summary": (model.__doc__ or "").strip() or event_type,
            "contentType": "application/cloudevents+json",
            "payload": {
                "type": "object",
                "required": ["specversion", "id", "source", "type", "time", "data"],
                "properties": {
                    **envelope_props,
                    "type": {"const": event_type},
                    "data": {"$ref": f"#/components/schemas/{name}"},
                },
            },
        }
        channel_id = event_type.replace(".", "_")
        channels[channel_id] = {
            "address": event_type,
            "description": f"Routing key `{event_type}` on the `attache.events` topic exchange.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": "attache.events",
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                    },
                }
            },
        }
        operations[f"on_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Attache events",
            "version": "1.0.0",
            "description": "Every change Attache makes is announced on the durable topic exchange "
            "`attache.events`, routing key = event type, as a persistent CloudEvents 1.0 "
            "structured-mode JSON message. Delivery is at-least-once: deduplicate by `id`.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
