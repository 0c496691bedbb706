-- Gateway: upload sessions (a presigned upload waiting for its confirm).

CREATE TABLE gateway.upload_sessions (
    id              uuid        PRIMARY KEY,
    org_id          text        NOT NULL,
    customer_id     uuid        NOT NULL,
    created_by      text        NOT NULL,
    bucket          text        NOT NULL,
    object_key      text        NOT NULL,
    filename        text        NOT NULL,
    content_type    text        NOT NULL,
    declared_size   bigint      NOT NULL,
    checksum_sha256 text,
    content_md5     text,
    -- pending → confirmed | rejected; pending rows past expires_at are swept with their object.
    status          text        NOT NULL DEFAULT 'pending',
    reject_reason   text,
    attachment_id   uuid,
    etag            text,
    detected_mime_type text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    UNIQUE (bucket, object_key)
);
CREATE INDEX upload_sessions_expiry ON gateway.upload_sessions (expires_at) WHERE status = 'pending';
