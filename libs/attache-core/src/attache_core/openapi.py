"""OpenAPI 3.1 from the routes themselves.

Each handler is registered through `ApiSpec.operation`, which both adds the
aiohttp route and records its pydantic request/response models, so the
document can't miss an endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from attache_core.web import Handler

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code"],
    "properties": {
        "error": {"type": "string", "description": "What went wrong, safe to show"},
        "code": {"type": "string", "description": "Stable machine-readable code"},
        "details": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Per-parameter problems",
        },
        "retryAfter": {"type": "integer", "description": "Seconds to wait (429)"},
    },
}
_ERROR_TEXT = {
    400: "Invalid parameters",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found (also for another organisation's objects)",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Content rejected",
    429: "Rate limit exceeded",
    502: "Upstream failure",
}


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    handler: Handler
    request: type[BaseModel] | None = None
    request_content_type: str = "application/json"
    request_schema: dict[str, Any] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_schema: dict[str, Any] | None = None
    response_content_type: str = "application/json"
    status: int = 200
    errors: tuple[int, ...] = (400, 401, 404)
    auth: bool = True
    tags: tuple[str, ...] = ()


@dataclass
class ApiSpec:
    title: str
    version: str
    description: str = ""
    operations: list[Operation] = field(default_factory=list)

    def operation(
        self, method: str, path: str, summary: str, **kwargs: Any
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(Operation(method, path, summary, handler, **kwargs))
            return handler

        return register

    def add_routes(
        self,
        app: web.Application,
        *,
        first: Collection[Handler] = (),
        wrap: Callable[[str, Handler], Handler] | None = None,
    ) -> None:
        """Adds every operation's route, those of the `first` handlers ahead of the rest;
        `wrap(path, handler)` gives the handler each route gets (say, behind a guard).

        aiohttp tries the routes under one path prefix in the order they were added, each
        a regex match, so hot routes go first. Only routes whose paths no earlier route
        also matches may be moved, or a request would reach another handler.
        """
        for op in sorted(self.operations, key=lambda op: op.handler not in first):
            handler = op.handler if wrap is None else wrap(op.path, op.handler)
            app.router.add_route(op.method, op.path, handler)

    def document(self) -> dict[str, Any]:
        schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

        def ref(model: type[BaseModel]) -> dict[str, str]:
            schema = model.model_json_schema(
                ref_template="#/components/schemas/{model}", by_alias=True
            )
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            return {"$ref": f"#/components/schemas/{model.__name__}"}

        paths: dict[str, Any] = {}
        for op in self.operations:
            entry: dict[str, Any] = {
                "summary": op.summary,
                "operationId": op.handler.__name__,
                "tags": list(op.tags),
                "responses": {},
            }
            params = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_params(op.path)
            ]
            if op.query is not None:
                qschema = op.query.model_json_schema()
                required = set(qschema.get("required", []))
                for name, prop in qschema.get("properties", {}).items():
                    params.append(
                        {"name": name, "in": "query", "required": name in required, "schema": prop}
                    )
            if params:
                entry["parameters"] = params
            if op.request is not None or op.request_schema is not None:
                schema = ref(op.request) if op.request is not None else op.request_schema
                entry["requestBody"] = {
                    "required": True,
                    "content": {op.request_content_type: {"schema": schema}},
                }
            ok: dict[str, Any] = {"description": "Success"}
            if op.response is not None or op.response_schema is not None:
                schema = ref(op.response) if op.response is not None else op.response_schema
                ok["content"] = {op.response_content_type: {"schema": schema}}
            entry["responses"][str(op.status)] = ok
            for status in sorted(set(op.errors) | ({401} if op.auth else set()) | {500}):
                entry["responses"][str(status)] = {
                    "description": _ERROR_TEXT.get(status, "Internal server error"),
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            if op.auth:
                entry["security"] = [{"bearer": []}]
            paths.setdefault(op.path, {})[op.method.lower()] = entry
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
            },
        }


def _path_params(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)
