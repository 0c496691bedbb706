-- Reprocessing requests (POST /api/attachments/:id/reprocess): one row per request, so
-- its state can be read back; finished when the next enrichment result arrives.

CREATE TABLE catalog.enrichment_jobs (
    id            uuid        PRIMARY KEY,
    org_id        text        NOT NULL,
    attachment_id uuid        NOT NULL,
    priority      smallint    NOT NULL CHECK (priority BETWEEN 1 AND 10),
    -- queued → completed | failed
    status        text        NOT NULL DEFAULT 'queued',
    error         text,
    requested_by  text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX enrichment_jobs_open ON catalog.enrichment_jobs (attachment_id) WHERE status = 'queued';
