"""The platform for benchmarks: isolated infrastructure, services as subprocesses.

Like the test suite's ``stack`` fixture (conftest.py), every run gets its own
PostgreSQL database, RabbitMQ vhost and SeaweedFS (temporary directory, free
ports), all removed at the end, even on error or Ctrl-C. Unlike the fixture, the
catalog, the gateway and the baseline server run as separate processes
(``python -m attache_catalog``, ``python -m attache_gateway``,
``tests/bench/empty_server.py``), so the load generator in this process never
competes with them for the same interpreter, and the baseline pays the same
process and HTTP costs as the service it is compared with.

The enricher is not started: enrichment is asynchronous, off every request path
the benchmarks time, and would only add noise to the 2 cores. Its work queue is
declared, so the catalog's outbox relay routes ``attachment.created`` exactly as
in production (the messages wait in the vhost, which is deleted at the end).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from attache_core.auth import issue_dev_token
from attache_core.settings import CommonSettings
from attache_devstack import infra
from attache_devstack.seaweedfs import SeaweedFS

ADMIN_DATABASE_URL = os.environ.get("ATTACHE_ADMIN_DATABASE_URL", infra.DEFAULT_POSTGRES_URL)
ADMIN_AMQP_URL = os.environ.get("ATTACHE_ADMIN_AMQP_URL", infra.DEFAULT_AMQP_URL)
S3_ACCESS_KEY = "attache-dev-access"
S3_SECRET_KEY = "attache-dev-secret-key-change-me"
S3_BUCKET = "attache-bench"
JWT_SECRET = "attache-bench-jwt-secret-0123456789abcdef"
INTERNAL_SECRET = "attache-bench-internal-secret-0123456789"
EVENTS_EXCHANGE = "attache.events"
READY_SECONDS = 90.0
EMPTY_SERVER = Path(__file__).with_name("empty_server.py")


def progress(message: str) -> None:
    """Human progress, on stderr (stdout carries the JSON report only)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark process dies without cleaning up."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _pids_named(command: str) -> list[int]:
    """Processes whose command name is `command` (read from /proc; nothing is signalled)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@dataclass
class Service:
    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # aiohttp runs its cleanup contexts
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class BenchStack:
    """Everything a benchmark needs; use as ``async with BenchStack() as stack``."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    workdir: Path | None = None
    database_name: str = ""
    database_url: str = ""
    amqp_url: str = ""
    seaweedfs: SeaweedFS | None = None
    catalog: Service | None = None
    gateway: Service | None = None
    baseline: Service | None = None
    importer: Service | None = None
    # Shared between benchmarks of one run (e.g. the empty-handler baseline).
    cache: dict[str, Any] = field(default_factory=dict)
    _exit: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    # -- set-up and tear-down -----------------------------------------------------------

    async def __aenter__(self) -> BenchStack:
        await self._exit.__aenter__()
        try:
            await self._start()
        except BaseException:
            progress("start-up failed; cleaning up")
            await self._exit.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        progress("cleaning up")
        await self._exit.__aexit__(*exc_info)
        progress("cleaned up")

    async def _start(self) -> None:
        infra.require_postgres(ADMIN_DATABASE_URL)
        infra.require_rabbitmq(ADMIN_AMQP_URL)
        started = time.monotonic()

        self.workdir = Path(tempfile.mkdtemp(prefix=f"attache-bench-{self.run_id}-"))
        self._exit.callback(shutil.rmtree, self.workdir, ignore_errors=True)

        self.database_name = f"attache_bench_{self.run_id}"
        self.database_url = await infra.create_database(ADMIN_DATABASE_URL, self.database_name)
        self._exit.push_async_callback(infra.drop_database, ADMIN_DATABASE_URL, self.database_name)

        vhost = f"attache-bench-{self.run_id}"
        await asyncio.to_thread(infra.create_vhost, vhost)
        self._exit.callback(infra.delete_vhost, vhost)
        self.amqp_url = infra.with_vhost(ADMIN_AMQP_URL, vhost)
        await self._declare_event_queues()

        seaweedfs = SeaweedFS(self.workdir / "seaweedfs", S3_ACCESS_KEY, S3_SECRET_KEY)
        self._exit.callback(seaweedfs.stop)
        progress("starting SeaweedFS")
        await asyncio.to_thread(seaweedfs.start)
        self.seaweedfs = seaweedfs

        progress("starting catalog, gateway and the empty baseline server")
        catalog_port, gateway_port, baseline_port = free_port(), free_port(), free_port()
        env = self._service_env()
        self.catalog = self._spawn(
            "catalog",
            [sys.executable, "-m", "attache_catalog"],
            {**env, "ATTACHE_CATALOG_PORT": str(catalog_port)},
            f"http://127.0.0.1:{catalog_port}",
        )
        self.gateway = self._spawn("gateway", *self.gateway_command(gateway_port))
        self.baseline = self._spawn("baseline", *self.baseline_command(baseline_port))
        self.restart_importer()
        await asyncio.gather(
            self._wait_ready(self.catalog, "/ready"),
            self._wait_ready(self.gateway, "/ready"),
            self._wait_ready(self.baseline, "/health"),
        )
        progress(
            f"stack ready in {time.monotonic() - started:.1f}s (run {self.run_id}; pids: "
            f"gateway {self.gateway.pid}, catalog {self.catalog.pid}, "
            f"baseline {self.baseline.pid}, seaweedfs {seaweedfs.process.pid})"
        )

    def gateway_command(self, port: int) -> tuple[list[str], dict[str, str], str]:
        """(argv, environment, URL) of a gateway process of this run on `port`."""
        assert self.catalog is not None
        env = {
            **self._service_env(),
            "ATTACHE_GATEWAY_PORT": str(port),
            "ATTACHE_CATALOG_URL": self.catalog.url,
            "ATTACHE_MAX_FILE_BYTES": str(2 * 1024**3),  # the 1 GiB upload benchmark
            # No per-user rate limits on /api/attachments: the library benchmark sends
            # thousands of requests a minute with one user's token.
            "ATTACHE_RATE_LIMITED_PREFIXES": "[]",
        }
        return [sys.executable, "-m", "attache_gateway"], env, f"http://127.0.0.1:{port}"

    def baseline_command(self, port: int) -> tuple[list[str], dict[str, str], str]:
        """(argv, environment, URL) of an empty-handler baseline process on `port`."""
        argv = [sys.executable, str(EMPTY_SERVER), "--port", str(port)]
        return argv, self._service_env(), f"http://127.0.0.1:{port}"

    def restart_importer(self, wrapper: Sequence[str] = ()) -> Service:
        """(Re)starts the import worker, under `wrapper` (say, a profiler) if given. It has
        no HTTP port: benchmarks wait for its queue consumer."""
        if self.importer is not None:
            self.importer.stop()
        env = self._service_env()
        if concurrent := os.environ.get("ATTACHE_BENCH_IMPORT_CONCURRENT_BATCHES"):
            env["ATTACHE_IMPORT_CONCURRENT_BATCHES"] = concurrent  # to compare
        argv = [*wrapper, sys.executable, "-m", "attache_importer"]
        self.importer = self._spawn("importer", argv, env, "")
        return self.importer

    async def start_service(
        self, name: str, command: tuple[list[str], dict[str, str], str], *, wrapper: list[str]
    ) -> Service:
        """Another process of a command above, run under `wrapper` (say, a profiler);
        ready when it answers /health. Stopped with the stack, or earlier by the caller."""
        argv, env, url = command
        service = self._spawn(name, [*wrapper, *argv], env, url)
        await self._wait_ready(service, "/health")
        return service

    def _service_env(self) -> dict[str, str]:
        # Nothing of the caller's ATTACHE_* configuration leaks in: the run is isolated.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTACHE_")}
        assert self.seaweedfs is not None
        env.update(
            {
                "ATTACHE_ENVIRONMENT": "development",
                "ATTACHE_DATABASE_URL": self.database_url,
                "ATTACHE_AMQP_URL": self.amqp_url,
                "ATTACHE_S3_ENDPOINT_URL": self.seaweedfs.endpoint_url,
                "ATTACHE_S3_ACCESS_KEY": S3_ACCESS_KEY,
                "ATTACHE_S3_SECRET_KEY": S3_SECRET_KEY,
                "ATTACHE_S3_BUCKET": S3_BUCKET,
                "ATTACHE_JWT_SECRET": JWT_SECRET,
                "ATTACHE_INTERNAL_SECRET": INTERNAL_SECRET,
                "ATTACHE_EVENTS_EXCHANGE": EVENTS_EXCHANGE,
                "ATTACHE_LOG_LEVEL": "WARNING",
                "ATTACHE_LOG_FORMAT": "console",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str], url: str) -> Service:
        assert self.workdir is not None
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                args,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
                preexec_fn=_die_with_parent,
            )
        service = Service(name, url, process, log_path)
        self._exit.callback(service.stop)
        return service

    async def _wait_ready(self, service: Service, path: str) -> None:
        deadline = time.monotonic() + READY_SECONDS
        last = "no answer"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while True:
                if service.process.poll() is not None:
                    raise RuntimeError(
                        f"{service.name} exited with {service.process.returncode}:\n"
                        f"{service.log_tail()}"
                    )
                try:
                    async with http.get(service.url + path) as resp:
                        if resp.status == 200:
                            return
                        last = f"{resp.status} {await resp.text()}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = repr(exc)
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{service.name} not ready after {READY_SECONDS}s ({last}):\n{service.log_tail()}"
                    )
                await asyncio.sleep(0.2)

    async def _declare_event_queues(self) -> None:
        """The enricher's work queue, plus a bounded sink for any other event type.

        The relay publishes with `mandatory`: an event no queue is bound for fails
        the batch. The sink keeps a future event type without a consumer in this run
        from turning into relay retries that would distort the timings.
        """
        import aio_pika

        from attache_core.messaging import declare_exchanges, declare_work_queue
        from attache_enricher.worker import CREATED_QUEUE

        connection = await aio_pika.connect(self.amqp_url)
        try:
            channel = await connection.channel()
            await declare_work_queue(channel, CREATED_QUEUE, EVENTS_EXCHANGE)
            exchange = await declare_exchanges(channel, EVENTS_EXCHANGE)
            sink = await channel.declare_queue(
                "bench.events-sink",
                durable=False,
                arguments={"x-max-length": 1, "x-overflow": "drop-head"},
            )
            await sink.bind(exchange, routing_key="#")
        finally:
            await connection.close()

    # -- for benchmarks -----------------------------------------------------------------

    def token(
        self,
        *,
        org: str,
        sub: str = "bench-user",
        roles: tuple[str, ...] = ("admin",),
        customer_id: str | None = None,
        tier: str = "pro",
        ttl_seconds: int = 3600,
    ) -> str:
        settings = CommonSettings(jwt_secret=JWT_SECRET)
        return issue_dev_token(
            settings,
            sub=sub,
            org_id=org,
            roles=list(roles),
            customer_id=customer_id,
            tier=tier,
            ttl_seconds=ttl_seconds,
        )

    async def create_customer(self, token: str) -> str:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.gateway_url}/v1/customers",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "full_name": "Bench Customer",
                    "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
                },
            ) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"creating a customer: {resp.status} {await resp.text()}")
                return (await resp.json())["id"]

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    @property
    def baseline_url(self) -> str:
        assert self.baseline is not None
        return self.baseline.url

    async def postgres_pids(self) -> tuple[list[int], list[int]]:
        """(backends serving this run's database, the server's background processes).

        The background ones (WAL writer, checkpointer, ...) work for every database
        on the server, so other users of it show up there too.
        """
        conn = await asyncpg.connect(ADMIN_DATABASE_URL)
        try:
            rows = await conn.fetch(
                "SELECT pid, datname, backend_type FROM pg_stat_activity WHERE pid <> $1",
                conn.get_server_pid(),
            )
        finally:
            await conn.close()
        backends = [r["pid"] for r in rows if r["datname"] == self.database_name]
        background = [r["pid"] for r in rows if r["backend_type"] != "client backend"]
        return backends, background

    async def process_groups(self) -> dict[str, list[int]]:
        """Processes whose CPU the load reports show, by role."""
        groups: dict[str, list[int]] = {}
        for service in (self.gateway, self.catalog, self.baseline):
            if service is not None:
                groups[service.name] = [service.pid]
        if self.seaweedfs is not None and self.seaweedfs.process is not None:
            groups["seaweedfs"] = [self.seaweedfs.process.pid]
        groups["postgres"], groups["postgres_background"] = await self.postgres_pids()
        groups["rabbitmq"] = _pids_named("beam.smp")
        return groups

    def check_alive(self) -> None:
        for service in (self.gateway, self.catalog, self.baseline):
            if service is not None and service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with {service.process.returncode}:\n"
                    f"{service.log_tail()}"
                )
