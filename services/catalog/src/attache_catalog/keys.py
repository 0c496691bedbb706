"""Typed application keys of the catalog app."""

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from attache_catalog.settings import CatalogSettings
from attache_core.auth import TokenVerifier
from attache_core.messaging import EventConsumer

SETTINGS = web.AppKey("settings", CatalogSettings)
POOL = web.AppKey("pool", asyncpg.Pool)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
VERIFIER = web.AppKey("verifier", TokenVerifier)
CONSUMERS = web.AppKey("consumers", list[EventConsumer])
