"""Typed application keys of the gateway app."""

import asyncpg
from aiohttp import web

from attache_core.auth import TokenVerifier
from attache_core.batching import BatchWriter
from attache_core.s3 import BlobStore
from attache_gateway.catalog_client import CatalogClient
from attache_gateway.settings import GatewaySettings
from attache_gateway.uploads import UploadContext

SETTINGS = web.AppKey("settings", GatewaySettings)
POOL = web.AppKey("pool", asyncpg.Pool)
VERIFIER = web.AppKey("verifier", TokenVerifier)
BLOBS = web.AppKey("blobs", BlobStore)
CATALOG = web.AppKey("catalog", CatalogClient)
SESSION_WRITER = web.AppKey("session_writer", BatchWriter)
# Built once at start-up from the resources above (the presign hot path reads it).
UPLOADS = web.AppKey("uploads", UploadContext)
