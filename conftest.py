"""Test infrastructure shared by every test directory.

Real PostgreSQL, RabbitMQ and SeaweedFS. Each test session gets its own
database, its own RabbitMQ vhost and its own SeaweedFS (temporary directory,
free ports), and removes them at the end, so two runs on one machine never see
each other's data and the machine's services are left as they were found.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from attache_core.auth import issue_dev_token
from attache_core.settings import CommonSettings
from attache_devstack import infra
from attache_devstack.seaweedfs import SeaweedFS

ADMIN_DATABASE_URL = os.environ.get("ATTACHE_ADMIN_DATABASE_URL", infra.DEFAULT_POSTGRES_URL)
ADMIN_AMQP_URL = os.environ.get("ATTACHE_ADMIN_AMQP_URL", infra.DEFAULT_AMQP_URL)
S3_ACCESS_KEY = "attache-dev-access"
S3_SECRET_KEY = "attache-dev-secret-key-change-me"


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
async def database_url(run_id: str) -> AsyncIterator[str]:
    # The machine's PostgreSQL; a throwaway container where it is missing and Docker runs.
    with infra.postgres_server(ADMIN_DATABASE_URL) as (admin_url, _local):
        name = f"attache_test_{run_id}"
        url = await infra.create_database(admin_url, name)
        yield url
        await infra.drop_database(admin_url, name)


@pytest.fixture(scope="session")
def amqp_url(run_id: str) -> Iterator[str]:
    with infra.rabbitmq_server(ADMIN_AMQP_URL) as (broker_url, local):
        if not local:  # a container of our own: nothing else lives there
            yield broker_url
            return
        vhost = f"attache-test-{run_id}"
        infra.create_vhost(vhost)
        yield infra.with_vhost(broker_url, vhost)
        infra.delete_vhost(vhost)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"), S3_ACCESS_KEY, S3_SECRET_KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_settings(database_url: str, amqp_url: str, seaweedfs: SeaweedFS) -> dict[str, Any]:
    """Constructor arguments every service's settings take in tests."""
    return {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "s3_endpoint_url": seaweedfs.endpoint_url,
        "s3_access_key": S3_ACCESS_KEY,
        "s3_secret_key": S3_SECRET_KEY,
        "s3_bucket": "attache-test",
        "log_format": "console",
        "log_level": "WARNING",
    }


@dataclass
class Stack:
    """The platform running in this process, reached over real HTTP."""

    gateway_url: str
    catalog_url: str
    settings: CommonSettings
    gateway_app: web.Application
    catalog_app: web.Application
    runners: list[web.AppRunner] = field(default_factory=list)
    tasks: list[asyncio.Task] = field(default_factory=list)

    def token(
        self,
        *,
        org: str,
        sub: str = "user-1",
        roles: tuple[str, ...] = ("admin",),
        customer_id: str | None = None,
        tier: str = "free",
    ) -> str:
        return issue_dev_token(
            self.settings,
            sub=sub,
            org_id=org,
            roles=list(roles),
            customer_id=customer_id,
            tier=tier,
        )

    def auth(self, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kwargs)}"}


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
async def stack(base_settings: dict[str, Any]) -> AsyncIterator[Stack]:
    from attache_catalog.app import create_app as create_catalog
    from attache_catalog.settings import CatalogSettings
    from attache_enricher.settings import EnricherSettings
    from attache_enricher.worker import run as run_enricher
    from attache_gateway.app import create_app as create_gateway
    from attache_gateway.settings import GatewaySettings
    from attache_importer.settings import ImporterSettings
    from attache_importer.worker import run as run_importer

    catalog_app = create_catalog(CatalogSettings(**base_settings))
    catalog_runner, catalog_url = await _serve(catalog_app)
    gateway_settings = GatewaySettings(**base_settings, catalog_url=catalog_url)
    gateway_app = create_gateway(gateway_settings)
    gateway_runner, gateway_url = await _serve(gateway_app)
    stop = asyncio.Event()
    enricher = asyncio.create_task(run_enricher(EnricherSettings(**base_settings), stop))
    importer = asyncio.create_task(run_importer(ImporterSettings(**base_settings), stop))
    stack = Stack(
        gateway_url,
        catalog_url,
        gateway_settings,
        gateway_app,
        catalog_app,
        [gateway_runner, catalog_runner],
        [enricher, importer],
    )
    yield stack
    stop.set()
    await enricher
    await importer
    for runner in stack.runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def org() -> str:
    """A fresh tenant per test: tests share a database but never each other's rows."""
    return f"org-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def gateway_with() -> AsyncIterator[Any]:
    """Extra gateways with other settings: `app, url = await gateway_with(stack, **changes)`.
    They share the stack's database, broker and catalog; stopped after the test."""
    from attache_gateway.app import create_app as create_gateway
    from attache_gateway.settings import GatewaySettings

    runners: list[web.AppRunner] = []

    async def start(stack: Stack, **overrides: Any) -> tuple[web.Application, str]:
        values = {k: v for k, v in stack.settings.model_dump().items() if v is not None}
        for secret in ("amqp_url", "s3_secret_key", "jwt_secret", "internal_secret"):
            values[secret] = getattr(stack.settings, secret).get_secret_value()
        settings = GatewaySettings(**{**values, **overrides})
        app = create_gateway(settings, background=False)
        runner, url = await _serve(app)
        runners.append(runner)
        return app, url

    yield start
    for runner in runners:
        await runner.cleanup()
