"""Configuration read once from ATTACHE_* environment variables.

Each service subclasses `CommonSettings` with the fields it alone needs, so one
object per process holds every knob and nothing reads os.environ elsewhere.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "attache-development-secret-change-me"
DEV_INTERNAL_SECRET = "attache-internal-development-secret"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATTACHE_", extra="ignore", frozen=True)

    environment: str = "development"
    log_level: str = "INFO"
    # "console" for people at a terminal, "json" for log shippers.
    log_format: str = "json"

    database_url: str = "postgresql://postgres@127.0.0.1:5432/attache"
    db_pool_min: int = 1
    db_pool_max: int = 10

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    events_exchange: str = "attache.events"

    s3_endpoint_url: str = "http://127.0.0.1:8333"
    # What clients see in presigned URLs, when it differs (a proxy, a CDN, a docker hostname).
    s3_public_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str = "attache-dev-access"
    s3_secret_key: SecretStr = SecretStr("attache-dev-secret-key-change-me")
    s3_bucket: str = "attache-attachments"

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwks_url: str | None = None
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    jwt_issuer: str = "attache"
    jwt_audience: str = "attache-api"
    jwt_leeway_seconds: int = 10

    # Shared by gateway and catalog: only the gateway registers attachments it verified.
    internal_secret: SecretStr = SecretStr(DEV_INTERNAL_SECRET)

    bind_host: str = "127.0.0.1"

    @model_validator(mode="after")
    def _no_development_secrets_in_production(self) -> CommonSettings:
        if self.environment == "production":
            if (
                self.jwt_secret.get_secret_value() == DEV_JWT_SECRET
                and "HS256" in self.jwt_algorithms
            ):
                raise ValueError("ATTACHE_JWT_SECRET must be set in production")
            if self.internal_secret.get_secret_value() == DEV_INTERNAL_SECRET:
                raise ValueError("ATTACHE_INTERNAL_SECRET must be set in production")
        return self

    @property
    def presign_endpoint_url(self) -> str:
        return self.s3_public_endpoint_url or self.s3_endpoint_url
