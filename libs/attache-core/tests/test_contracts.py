"""The documented contracts match the code."""

from __future__ import annotations

from pathlib import Path

from attache_core import asyncapi
from attache_core.events import EVENT_PAYLOADS

REPO = Path(__file__).resolve().parents[3]


def test_checked_in_asyncapi_is_current():
    checked_in = (REPO / "docs" / "asyncapi.json").read_text()
    assert checked_in == asyncapi.render(), "regenerate: make asyncapi"


def test_asyncapi_documents_every_event_type():
    doc = asyncapi.document()
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == set(EVENT_PAYLOADS)
    for message in doc["components"]["messages"].values():
        assert message["contentType"] == "application/cloudevents+json"
        assert {
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "subject",
            "datacontenttype",
            "data",
        } <= set(message["payload"]["properties"])
