-- Gateway: profile image uploads (seed 003), from presign until the object is the
-- user's profile image, or is rejected, replaced or swept.
--
--   pending ──verified──▶ accepting ──catalog took it──▶ accepted ──replaced──▶ retired
--      │ (invalid: object deleted)                                   (object deleted, then the row)
--      ▼
--   rejected          pending or rejected past expires_at: swept (with the object)
--
-- `version` orders verified images: the catalog only ever moves a profile to a higher
-- version, so an accepted/accepting row below the profile's version can never become
-- its image again and is safe to delete.

CREATE SEQUENCE gateway.profile_image_version;

CREATE TABLE gateway.profile_image_uploads (
    id             uuid        PRIMARY KEY,
    org_id         text        NOT NULL,
    user_id        text        NOT NULL,
    bucket         text        NOT NULL,
    object_key     text        NOT NULL,
    file_name      text        NOT NULL,
    content_type   text        NOT NULL,
    -- Signed into the PUT when the client gave it; otherwise checked at acceptance.
    declared_size  bigint,
    status         text        NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'accepting', 'accepted', 'rejected', 'retired')),
    reject_reason  text,
    size_bytes     bigint,
    version        bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    UNIQUE (bucket, object_key),
    CHECK ((version IS NULL) = (status IN ('pending', 'rejected')))
);
CREATE INDEX profile_image_uploads_user
    ON gateway.profile_image_uploads (org_id, user_id, created_at DESC);
CREATE INDEX profile_image_uploads_expiry
    ON gateway.profile_image_uploads (expires_at) WHERE status IN ('pending', 'rejected');
CREATE INDEX profile_image_uploads_retired
    ON gateway.profile_image_uploads (id) WHERE status = 'retired';
