"""The OpenAI-compatible provider against a local server speaking /v1/chat/completions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from attache_enricher.analysis import LocalResult
from attache_enricher.providers import ProviderRequest
from attache_enricher.providers.openai import OpenAIProvider

LOCAL = LocalResult(
    document_type="invoice",
    confidence=0.8,
    extracted_metadata={"type": "invoice", "amount": 10.0},
    key_terms=["invoice"],
    model_version="attache-local-cues-1.0",
)
REQUEST = ProviderRequest("inv.pdf", "application/pdf", "de", "Rechnung Nr. 7 …")
GOOD_ANSWER = {
    "documentType": "invoice",
    "confidence": 0.97,
    "fields": {
        "amount": "1.234,50",
        "currency": "€",
        "invoiceNumber": "RE-7",
        "invoiceDate": "15.03.2025",
        "dueDate": "2025-04-14",
        "vendor": "ACME GmbH",
        "isPaid": False,
        "total": None,
        "date": None,
        "merchant": None,
        "parties": None,
        "effectiveDate": None,
        "expirationDate": None,
    },
    "keyTerms": ["Invoice", "ACME GmbH", "consulting", "invoice"],
}


class FakeLLM:
    """Answers like an OpenAI-compatible server; `mode` says how."""

    def __init__(self) -> None:
        self.mode = "good"
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.mode == "slow":
            await asyncio.sleep(1.5)
        if self.mode == "error":
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        content = {
            "good": json.dumps(GOOD_ANSWER),
            "fenced": "```json\n" + json.dumps(GOOD_ANSWER) + "\n```",
            "not_json": "Sure! The document is an invoice.",
            "wrong_schema": json.dumps({**GOOD_ANSWER, "documentType": "poem"}),
        }.get(self.mode, "{}")
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "test-model-2025",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
        )


@pytest.fixture
async def llm() -> AsyncIterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


async def provider_for(url: str) -> OpenAIProvider:
    return OpenAIProvider(
        base_url=url, model="test-model", api_key="sk-test", timeout=0.5, max_chars=100
    )


async def test_a_valid_answer_is_normalised_and_names_its_model(llm):
    fake, url = llm
    provider = await provider_for(url)
    try:
        result = await provider.enrich(REQUEST, LOCAL)
    finally:
        await provider.close()
    assert result.document_type == "invoice" and result.confidence == 0.97
    assert result.model_version == "test-model-2025"
    assert result.extracted_metadata == {
        "type": "invoice",
        "amount": 1234.5,
        "currency": "EUR",
        "invoiceNumber": "RE-7",
        "invoiceDate": "2025-03-15",
        "dueDate": "2025-04-14",
        "vendor": "ACME GmbH",
        "isPaid": False,
        "paymentStatus": "unpaid",
    }
    assert result.key_terms == ["invoice", "acme gmbh", "consulting"]
    sent = fake.requests[0]
    assert sent["model"] == "test-model" and sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert fake.headers[0]["Authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("mode", ["not_json", "wrong_schema", "error", "slow"])
async def test_failures_fall_back_to_the_local_answer(llm, mode):
    fake, url = llm
    fake.mode = mode
    provider = await provider_for(url)
    try:
        result = await provider.enrich(REQUEST, LOCAL)
    finally:
        await provider.close()
    assert result == LOCAL
    assert sum(v for k, v in provider.outcomes.items() if k.startswith("fallback")) == 1


async def test_fenced_json_is_accepted(llm):
    fake, url = llm
    fake.mode = "fenced"
    provider = await provider_for(url)
    try:
        result = await provider.enrich(REQUEST, LOCAL)
    finally:
        await provider.close()
    assert result.model_version == "test-model-2025"


async def test_an_unreachable_server_falls_back():
    provider = await provider_for("http://127.0.0.1:9/v1")
    try:
        assert await provider.enrich(REQUEST, LOCAL) == LOCAL
    finally:
        await provider.close()
