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
    # Files over this size go up in parts (S3 multipart; presign refers them there)...
    multipart_threshold_bytes: int = Field(default=100 * 1024**2, ge=1)
    # ...of this many bytes each but the last (S3: 5 MiB to 5 GiB; raised for a file that
    # would need more than 10,000 parts), up to this size (S3's own limit: 5 TiB)...
    multipart_part_size_bytes: int = Field(default=16 * 1024**2, ge=5 * 1024**2, le=5 * 1024**3)
    multipart_max_upload_bytes: int = Field(default=5 * 1024**4, ge=1, le=5 * 1024**4)
    # ...completed within this long of the start, or aborted by the sweeper; S3 multipart
    # uploads without a pending session are aborted once they are this old.
    multipart_expiry_seconds: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)
    allowed_content_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_CONTENT_TYPES)
    )
    sweep_interval_seconds: float = 60.0
    # Rejected and aborted upload sessions answer a repeated confirm for this long, then
    # the sweeper deletes them (their objects are deleted when they are settled).
    settled_session_retention_seconds: float = Field(default=30 * 24 * 3600, ge=0)
    # Profile images (seed 003): the largest accepted, and how long their upload and
    # display URLs live (the seed's 5 minutes).
    profile_image_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1)
    profile_image_url_ttl_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    # Known customers are remembered this long so presign needs no catalog round trip.
    customer_cache_seconds: float = 60.0
    # Rate limits (seed 004, rate_limits.py): requests a user (org_id + sub) may make a
    # minute by tier, counted in PostgreSQL across replicas, on paths under these prefixes.
    rate_limit_free_per_minute: int = Field(default=60, ge=1)
    rate_limit_pro_per_minute: int = Field(default=300, ge=1)
    rate_limited_prefixes: list[str] = Field(default_factory=lambda: ["/api/attachments"])

    # Uploads through the gateway (files API, seed 002; storage upload, seed 001).
    max_file_bytes: int = Field(default=100 * 1024**2, ge=1)
    # Streamed bodies go to S3 in parts of this size (memory per upload ~3 parts).
    stream_part_bytes: int = Field(default=8 * 1024**2, ge=5 * 1024**2)
    file_allowed_extensions: list[str] = Field(
        default_factory=lambda: ["csv", "jpg", "jpeg", "png", "pdf", "doc", "docx", "xls", "xlsx"]
    )
    storage_allowed_extensions: list[str] = Field(
        default_factory=lambda: [
            "jpg",
            "jpeg",
            "png",
            "gif",
            "webp",
            "mp3",
            "pcm",
            "mpeg",
            "mpga",
            "wav",
            "m4a",
            "opus",
            "webm",
            "mp4",
            "txt",
            "pdf",
        ]
    )
    # Buckets by purpose (seed 002); customer uploads go to s3_bucket. Created at start-up.
    bucket_ticket_media: str = "ticket-media"
    bucket_csv_imports: str = "csv-imports"
    bucket_backups: str = "backups"
    bucket_temp: str = "temp"
    # Download/preview URLs live this long; with a public base URL (a CDN in front of the
    # buckets) file URLs are built on it instead of being presigned.
    download_url_ttl_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    public_base_url: str | None = None

    @cached_property
    def file_extension_set(self) -> frozenset[str]:
        return frozenset(e.lower().lstrip(".") for e in self.file_allowed_extensions)

    @cached_property
    def storage_extension_set(self) -> frozenset[str]:
        return frozenset(e.lower().lstrip(".") for e in self.storage_allowed_extensions)

    @property
    def buckets(self) -> list[str]:
        return [
            self.s3_bucket,
            self.bucket_ticket_media,
            self.bucket_csv_imports,
            self.bucket_backups,
            self.bucket_temp,
        ]
