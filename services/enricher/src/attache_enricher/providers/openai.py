"""An OpenAI-compatible chat-completions provider (OpenAI, Azure OpenAI, vLLM, Ollama,
llama.cpp server, LiteLLM …): `POST {base_url}/chat/completions`.

It asks for JSON matching `RESPONSE_SCHEMA` (`response_format` json_schema, strict),
validates the answer with pydantic, normalises amounts, dates and currencies the same
way the local extractors do, and falls back to the local answer on any error, timeout
or invalid answer — the attachment is enriched either way, and `aiModelVersion` says
which model answered.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any, Literal

import aiohttp
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from attache_enricher.analysis import LocalResult
from attache_enricher.classify import DOCUMENT_TYPES
from attache_enricher.normalise import currency_code, find_dates, money_value, parse_amount
from attache_enricher.providers import ProviderRequest

log = structlog.get_logger("attache.enricher.llm")

SYSTEM_PROMPT = (
    "You classify business documents and extract their fields. Answer with one JSON object "
    "matching the schema and nothing else. documentType is one of: "
    + ", ".join(DOCUMENT_TYPES)
    + ". confidence is your probability (0 to 1) that documentType is right. Use null for "
    "any field the document does not state. Amounts are numbers with a dot as decimal mark; "
    "currency is an ISO 4217 code; dates are ISO 8601 (YYYY-MM-DD). Invoices: amount (the "
    "total to pay, tax included), currency, invoiceNumber, invoiceDate, dueDate, vendor (who "
    "issued it), isPaid. Receipts: total, currency, date, merchant. Contracts: parties, "
    "effectiveDate, expirationDate. keyTerms: up to 8 short lower-case phrases that best "
    "describe the document."
)

_NULLABLE_STRING = {"type": ["string", "null"]}
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["documentType", "confidence", "fields", "keyTerms"],
    "properties": {
        "documentType": {"type": "string", "enum": list(DOCUMENT_TYPES)},
        "confidence": {"type": "number"},
        "keyTerms": {"type": "array", "items": {"type": "string"}},
        "fields": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "amount",
                "currency",
                "invoiceNumber",
                "invoiceDate",
                "dueDate",
                "vendor",
                "isPaid",
                "total",
                "date",
                "merchant",
                "parties",
                "effectiveDate",
                "expirationDate",
            ],
            "properties": {
                "amount": {"type": ["number", "null"]},
                "currency": _NULLABLE_STRING,
                "invoiceNumber": _NULLABLE_STRING,
                "invoiceDate": _NULLABLE_STRING,
                "dueDate": _NULLABLE_STRING,
                "vendor": _NULLABLE_STRING,
                "isPaid": {"type": ["boolean", "null"]},
                "total": {"type": ["number", "null"]},
                "date": _NULLABLE_STRING,
                "merchant": _NULLABLE_STRING,
                "parties": {"type": ["array", "null"], "items": {"type": "string"}},
                "effectiveDate": _NULLABLE_STRING,
                "expirationDate": _NULLABLE_STRING,
            },
        },
    },
}


def _as_amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("not an amount")
    if isinstance(value, int | float):
        return Decimal(str(value))
    parsed = parse_amount(str(value))
    if parsed is None:
        raise ValueError("not an amount")
    return parsed


def _as_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    text = str(value)
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        found = find_dates(text)
        if not found:
            raise ValueError("not a date") from None
        return found[0].value


class AnswerFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    amount: Decimal | None = None
    currency: str | None = None
    invoiceNumber: str | None = Field(default=None, max_length=80)
    invoiceDate: dt.date | None = None
    dueDate: dt.date | None = None
    vendor: str | None = Field(default=None, max_length=200)
    isPaid: bool | None = None
    total: Decimal | None = None
    date: dt.date | None = None
    merchant: str | None = Field(default=None, max_length=200)
    parties: list[str] | None = None
    effectiveDate: dt.date | None = None
    expirationDate: dt.date | None = None

    _amounts = field_validator("amount", "total", mode="before")(lambda v: _as_amount(v))
    _dates = field_validator(
        "invoiceDate", "dueDate", "date", "effectiveDate", "expirationDate", mode="before"
    )(lambda v: _as_date(v))

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: Any) -> str | None:
        if value in (None, ""):
            return None
        code = currency_code(str(value))
        if code is None:
            raise ValueError("not a currency")
        return code


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    documentType: Literal[DOCUMENT_TYPES]  # type: ignore[valid-type]
    confidence: float = Field(ge=0, le=1)
    fields: AnswerFields | None = None
    keyTerms: list[str] = Field(default_factory=list, max_length=20)


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _money(value: Decimal | None) -> float | None:
    return money_value(abs(value)) if value is not None else None


def to_result(answer: Answer, model_version: str) -> LocalResult:
    f = answer.fields or AnswerFields()
    metadata: dict[str, Any] | None = None
    if answer.documentType == "invoice":
        metadata = {
            "type": "invoice",
            "amount": _money(f.amount),
            "currency": f.currency,
            "invoiceNumber": f.invoiceNumber,
            "invoiceDate": _iso(f.invoiceDate),
            "dueDate": _iso(f.dueDate),
            "vendor": f.vendor,
            "isPaid": bool(f.isPaid),
            "paymentStatus": "paid" if f.isPaid else "unpaid",
        }
    elif answer.documentType == "receipt":
        metadata = {
            "type": "receipt",
            "total": _money(f.total if f.total is not None else f.amount),
            "currency": f.currency,
            "date": _iso(f.date or f.invoiceDate),
            "merchant": f.merchant or f.vendor,
        }
    elif answer.documentType == "contract":
        metadata = {
            "type": "contract",
            "parties": [p.strip() for p in (f.parties or []) if p.strip()][:6],
            "effectiveDate": _iso(f.effectiveDate),
            "expirationDate": _iso(f.expirationDate),
        }
    terms = []
    for term in answer.keyTerms:
        term = " ".join(term.lower().split())[:80]
        if term and term not in terms:
            terms.append(term)
    return LocalResult(
        document_type=answer.documentType,
        confidence=round(answer.confidence, 3),
        extracted_metadata=metadata,
        key_terms=terms[:8],
        model_version=model_version,
    )


def parse_content(content: str) -> Answer:
    text = content.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    return Answer.model_validate(json.loads(text))


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout: float,
        max_chars: int = 12_000,
        response_format: str = "json_schema",
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_chars = max_chars
        self.response_format = response_format
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._session = aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        )
        # answered, fallback_error, fallback_timeout, fallback_invalid
        self.outcomes: collections.Counter[str] = collections.Counter()

    def body(self, request: ProviderRequest) -> dict[str, Any]:
        user = (
            f"File name: {request.filename}\nFile type: {request.mime_type}\n"
            f"Language: {request.language or 'unknown'}\n\nDocument text:\n"
            f"{request.text[: self.max_chars]}"
        )
        if self.response_format == "json_schema":
            response_format: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "attachment_enrichment",
                    "strict": True,
                    "schema": RESPONSE_SCHEMA,
                },
            }
        else:
            response_format = {"type": "json_object"}
        return {
            "model": self.model,
            "temperature": 0,
            "response_format": response_format,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user},
            ],
        }

    async def enrich(self, request: ProviderRequest, local: LocalResult) -> LocalResult:
        if not request.text.strip():
            return local  # nothing to read: the local answer (image, empty) stands
        try:
            async with self._session.post(self.url, json=self.body(request)) as resp:
                if resp.status != 200:
                    raise aiohttp.ClientResponseError(
                        resp.request_info, resp.history, status=resp.status
                    )
                payload = await resp.json(content_type=None)
            content = payload["choices"][0]["message"]["content"]
            answer = parse_content(content)
            model = str(payload.get("model") or self.model)[:100]
        except TimeoutError:
            self.outcomes["fallback_timeout"] += 1
            log.warning("llm_fallback", reason="timeout", model=self.model)
            return local
        except (aiohttp.ClientError, OSError) as exc:
            self.outcomes["fallback_error"] += 1
            log.warning("llm_fallback", reason=type(exc).__name__, model=self.model)
            return local
        except (KeyError, IndexError, TypeError, ValueError, ValidationError) as exc:
            self.outcomes["fallback_invalid"] += 1
            log.warning("llm_fallback", reason=f"invalid answer: {type(exc).__name__}")
            return local
        self.outcomes["answered"] += 1
        return to_result(answer, model)

    async def close(self) -> None:
        await self._session.close()
