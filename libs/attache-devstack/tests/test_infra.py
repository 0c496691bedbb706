"""Missing infrastructure is reported with what to do, not a traceback from deep inside."""

from __future__ import annotations

import pytest

from attache_devstack import infra


def test_unreachable_postgres_without_docker_says_what_to_start(monkeypatch):
    monkeypatch.setattr(infra, "docker_available", lambda: False)
    with pytest.raises(
        infra.InfrastructureMissing, match="PostgreSQL is not reachable at 127.0.0.1:1"
    ):
        with infra.postgres_server("postgresql://postgres@127.0.0.1:1/postgres"):
            pass


def test_unreachable_rabbitmq_without_docker_says_what_to_start(monkeypatch):
    monkeypatch.setattr(infra, "docker_available", lambda: False)
    with pytest.raises(infra.InfrastructureMissing, match="rabbitmq-server -detached"):
        with infra.rabbitmq_server("amqp://guest:guest@127.0.0.1:1/"):
            pass


def test_reachable_servers_are_used_as_they_are():
    with infra.postgres_server(infra.DEFAULT_POSTGRES_URL) as (url, local):
        assert (url, local) == (infra.DEFAULT_POSTGRES_URL, True)


def test_url_helpers():
    assert infra.with_database("postgresql://u@h:5432/postgres", "x") == "postgresql://u@h:5432/x"
    assert infra.with_vhost("amqp://g:g@h:5672/", "v") == "amqp://g:g@h:5672/v"
