-- CSV customer imports (seed 002) and the background jobs that run them.

-- What an import brings beyond the API's customers: the address, a password hash (never
-- the password), whether the customer must be invited to set one, and which import
-- created or last updated the row.
ALTER TABLE catalog.customers
    ADD COLUMN address            text,
    ADD COLUMN city               text,
    ADD COLUMN state              text,
    ADD COLUMN postal_code        text,
    ADD COLUMN country            text,
    ADD COLUMN password_hash      text,
    ADD COLUMN invitation_pending boolean NOT NULL DEFAULT false,
    ADD COLUMN import_job_id      uuid;

-- The seed's BackgroundJob: CSV imports and file clean-up runs, listed together.
CREATE TABLE catalog.background_jobs (
    id              uuid        PRIMARY KEY,
    org_id          text        NOT NULL,
    -- csv_import | file_cleanup
    job_type        text        NOT NULL,
    -- pending → processing → completed | completed_with_errors | failed
    status          text        NOT NULL DEFAULT 'pending',
    created_by      text        NOT NULL,
    -- the import: its source file and options (mapping_config, validation_rules, …)
    file_upload_id  uuid,
    bucket          text,
    object_key      text,
    options         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- counts as the seed names them, plus what the merge did with the valid rows
    total_rows      bigint      NOT NULL DEFAULT 0,
    processed_rows  bigint      NOT NULL DEFAULT 0,
    successful_rows bigint      NOT NULL DEFAULT 0,
    failed_rows     bigint      NOT NULL DEFAULT 0,
    skipped_rows    bigint      NOT NULL DEFAULT 0,
    created_rows    bigint      NOT NULL DEFAULT 0,
    updated_rows    bigint      NOT NULL DEFAULT 0,
    -- the first errors (bounded); the full report is an object in S3
    error_log       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    error_report_bucket text,
    error_report_key    text,
    -- why a job failed, or a note on how it ended
    message         text,
    -- reading | merging | reporting | done; progress in percent
    phase           text,
    progress        real        NOT NULL DEFAULT 0,
    -- where a resumed worker continues (byte offset, line, counts, merged partitions)
    checkpoint      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    attempts        integer     NOT NULL DEFAULT 0,
    -- file encoding, delimiter and the columns as matched (for the reader of the job)
    file_info       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    timings         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX background_jobs_org_page ON catalog.background_jobs (org_id, created_at DESC, id DESC);

-- Every rejected or skipped row of an import until its report is written to S3.
CREATE TABLE catalog.import_errors (
    job_id      uuid   NOT NULL,
    line        bigint NOT NULL,
    column_name text,
    value       text,
    reason      text   NOT NULL,
    -- rejected (invalid row) or skipped (duplicate)
    outcome     text   NOT NULL
);
CREATE INDEX import_errors_job_line ON catalog.import_errors (job_id, line);
