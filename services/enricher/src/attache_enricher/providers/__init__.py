"""Who decides the AI fields: the local models (default) or an LLM service.

A provider takes what the sandbox extracted and the local models' answer, and returns
the answer to publish. The local provider returns it unchanged; the OpenAI-compatible
provider asks a chat-completions endpoint and falls back to the local answer whenever
that endpoint fails, times out or answers something that doesn't validate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from attache_enricher.analysis import LocalResult


@dataclass(frozen=True)
class ProviderRequest:
    filename: str
    mime_type: str
    language: str | None
    text: str


class Provider(Protocol):
    name: str

    async def enrich(self, request: ProviderRequest, local: LocalResult) -> LocalResult: ...

    async def close(self) -> None: ...


class LocalProvider:
    name = "local"

    async def enrich(self, request: ProviderRequest, local: LocalResult) -> LocalResult:
        return local

    async def close(self) -> None:
        return None
