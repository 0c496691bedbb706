"""PostgreSQL and RabbitMQ for local runs and tests: reachability checks with a
clear message, throwaway databases and vhosts so test runs never share state."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import warnings
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class InfrastructureMissing(RuntimeError):
    pass


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 0), timeout=2
        ).close()
    except OSError:
        return False
    return True


def require_tcp(url: str, what: str, how_to_start: str) -> None:
    if not reachable(url):
        parts = urlsplit(url)
        raise InfrastructureMissing(
            f"{what} is not reachable at {parts.hostname}:{parts.port}. {how_to_start}"
        )


def docker_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run([docker, "info"], capture_output=True, timeout=20, check=False)
    return probe.returncode == 0


def require_postgres(url: str = DEFAULT_POSTGRES_URL) -> None:
    require_tcp(
        url,
        "PostgreSQL",
        "Start it (e.g. `pg_ctlcluster 15 main start`), or set "
        "ATTACHE_ADMIN_DATABASE_URL to a server where this user may create databases.",
    )


def require_rabbitmq(url: str = DEFAULT_AMQP_URL) -> None:
    require_tcp(
        url,
        "RabbitMQ",
        "Start it (e.g. `rabbitmq-server -detached`), or set "
        "ATTACHE_ADMIN_AMQP_URL to a broker with guest access.",
    )


@contextlib.contextmanager
def postgres_server(url: str) -> Iterator[tuple[str, bool]]:
    """(admin URL, is_local): the given server, else a throwaway container where Docker runs."""
    if reachable(url) or not docker_available():
        require_postgres(url)
        yield url, True
        return
    with warnings.catch_warnings():  # testcontainers warns about its own internals
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:15", driver=None) as container:
        yield container.get_connection_url(), False


@contextlib.contextmanager
def rabbitmq_server(url: str) -> Iterator[tuple[str, bool]]:
    """(AMQP URL, is_local): the given broker, else a throwaway container where Docker runs."""
    if reachable(url) or not docker_available():
        require_rabbitmq(url)
        yield url, True
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.community.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13") as container:
        params = container.get_connection_params()
        yield f"amqp://guest:guest@{params.host}:{params.port}/", False


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{vhost}"))


async def create_database(admin_url: str, name: str, *, exist_ok: bool = False) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
        elif not exist_ok:
            raise RuntimeError(f"database {name} already exists")
    finally:
        await conn.close()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise InfrastructureMissing("rabbitmqctl not found: cannot create an isolated vhost")
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)


def create_vhost(name: str, user: str = "guest") -> None:
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")


def delete_vhost(name: str) -> None:
    _rabbitmqctl("delete_vhost", name)
