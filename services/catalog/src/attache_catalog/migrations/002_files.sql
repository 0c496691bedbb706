-- The files API (seed 002): purpose, ticket/service links, client metadata, expiry,
-- checksums, and tombstones so an object is deleted at least once after its record.

ALTER TABLE catalog.attachments
    ADD COLUMN file_type     text,
    ADD COLUMN ticket_id     text,
    ADD COLUMN service_id    text,
    ADD COLUMN metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN checksum_md5  text,
    ADD COLUMN expires_at    timestamptz,
    -- Set when the record is deleted; the row stays until its object is gone too.
    ADD COLUMN deleted_at    timestamptz,
    -- A sweeper holds due rows until this moment while it deletes their objects.
    ADD COLUMN sweep_claimed_until timestamptz;

CREATE INDEX attachments_ticket ON catalog.attachments (org_id, ticket_id, created_at DESC, id DESC)
    WHERE ticket_id IS NOT NULL;
CREATE INDEX attachments_due ON catalog.attachments (LEAST(expires_at, deleted_at))
    WHERE expires_at IS NOT NULL OR deleted_at IS NOT NULL;
