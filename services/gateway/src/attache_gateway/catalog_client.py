"""The gateway's HTTP client for the catalog service.

The caller's bearer token travels with every request, so the catalog derives
the tenant from the token itself rather than trusting the gateway.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from attache_core.errors import AttacheError, UpstreamFailed
from attache_core.web import REQUEST_ID_HEADER

INTERNAL_SECRET_HEADER = "X-Attache-Internal-Secret"
_FORWARDED_REQUEST_HEADERS = ("Authorization", "Content-Type", REQUEST_ID_HEADER)


class CatalogError(AttacheError):
    """The catalog's own 4xx, passed to the client as is."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("error", "Request failed")), details=body.get("details"))
        self.status = status
        self.code = str(body.get("code", "error"))


class CatalogClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        internal_secret: str,
        *,
        customer_cache_seconds: float = 60.0,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._internal_secret = internal_secret
        self._cache_seconds = customer_cache_seconds
        # (org_id, customer_id) → when it was last seen to exist. Positive answers only:
        # a stale entry costs nothing, since registration checks the customer again.
        self._known_customers: dict[tuple[str, str], float] = {}

    async def _call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        json_body: Any = None,
        params: Any = None,
    ) -> tuple[int, bytes, str]:
        try:
            async with self._session.request(
                method, self._base_url + path, headers=headers, json=json_body, params=params
            ) as resp:
                return resp.status, await resp.read(), resp.content_type
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamFailed("Catalog service unavailable") from exc

    @staticmethod
    def _raise_for(status: int, body: bytes) -> None:
        if status < 400:
            return
        if status >= 500:
            raise UpstreamFailed("Catalog service failed")
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"error": "Request failed"}
        raise CatalogError(status, parsed)

    async def forward(self, request: web.Request, path: str | None = None) -> web.Response:
        """Relay a client request to the catalog: the same path, or `path`."""
        headers = {
            h: request.headers[h] for h in _FORWARDED_REQUEST_HEADERS if h in request.headers
        }
        body = await request.read() if request.can_read_body else None
        try:
            async with self._session.request(
                request.method,
                self._base_url + (path or request.path),
                headers=headers,
                params=request.query,
                data=body,
            ) as resp:
                payload = await resp.read()
                if resp.status >= 500:
                    raise UpstreamFailed("Catalog service failed")
                return web.Response(
                    body=payload, status=resp.status, content_type=resp.content_type
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamFailed("Catalog service unavailable") from exc

    async def ensure_customer(
        self, authorization: str, org_id: str, customer_id: uuid.UUID | str
    ) -> None:
        """NotFound unless the caller's organisation has this customer (a UUID or its
        canonical text)."""
        key = (org_id, str(customer_id))
        seen = self._known_customers.get(key)
        if seen is not None and time.monotonic() - seen < self._cache_seconds:
            return
        status, body, _ = await self._call(
            "GET", f"/v1/customers/{customer_id}", headers={"Authorization": authorization}
        )
        self._raise_for(status, body)
        if len(self._known_customers) > 100_000:
            self._known_customers.clear()
        self._known_customers[key] = time.monotonic()

    async def register_attachment(
        self, authorization: str, registration: dict[str, Any]
    ) -> dict[str, Any]:
        """Register a verified object (idempotent on its id); the attachment as stored."""
        return await self.request_json(
            "POST",
            "/internal/v1/attachments",
            authorization=authorization,
            json_body=registration,
            internal=True,
        )

    async def profile(
        self, authorization: str, changes: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The caller's profile (GET), or with `changes` its PATCH: {profile, imageChanged, …}."""
        return await self.request_json(
            "GET" if changes is None else "PATCH",
            "/internal/v1/profile",
            authorization=authorization,
            json_body=changes,
            internal=True,
        )

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        authorization: str | None = None,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        internal: bool = False,
    ) -> Any:
        """Call the catalog and return its JSON; its 4xx become CatalogError, the rest 502.
        `internal` adds the gateway's shared secret (endpoints only the gateway may call)."""
        headers = {"Authorization": authorization} if authorization else {}
        if internal:
            headers[INTERNAL_SECRET_HEADER] = self._internal_secret
        status, body, _ = await self._call(
            method, path, headers=headers, json_body=json_body, params=params
        )
        self._raise_for(status, body)
        return json.loads(body)
