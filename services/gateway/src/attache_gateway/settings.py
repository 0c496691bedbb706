from functools import cached_property

from pydantic import Field

from attache_core import sniffing
from attache_core.settings import CommonSettings

DEFAULT_ALLOWED_CONTENT_TYPES = [
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/json",
    "application/xml",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/tiff",
    "image/bmp",
    "image/heic",
    "audio/mpeg",
    "audio/wav",
    "audio/mp4",
    "audio/ogg",
    "audio/opus",
    "audio/webm",
    "audio/pcm",
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "application/zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "message/rfc822",
    "application/octet-stream",
]


class GatewaySettings(CommonSettings):
    @cached_property
    def allowed_content_type_set(self) -> frozenset[str]:
        return frozenset(sniffing.normalise(t) for t in self.allowed_content_types)

    gateway_port: int = 8080
    catalog_url: str = "http://127.0.0.1:8081"
    # A presigned upload URL is valid this long...
    upload_url_ttl_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    # ...and its session may still be confirmed this much later, then it is swept.
    confirm_grace_seconds: int = Field(default=600, ge=0)
    # A single presigned PUT; S3 caps one PUT at 5 GiB.
    max_upload_bytes: int = Field(default=5 * 1024**3, ge=1)
    allowed_content_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_CONTENT_TYPES)
    )
    sweep_interval_seconds: float = 60.0
    # Known customers are remembered this long so presign needs no catalog round trip.
    customer_cache_seconds: float = 60.0
