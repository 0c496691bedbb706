-- The attachment library (seed 004): e-mail origin, AI enrichment results, access counts,
-- and the derived columns the list filters, sorts and searches on.

ALTER TABLE catalog.attachments
    ADD COLUMN email_id                  text,
    ADD COLUMN sender_email              text,
    ADD COLUMN sender_name               text,
    ADD COLUMN email_subject             text,
    ADD COLUMN email_date                timestamptz,
    -- lower-case extension and category (document, image, spreadsheet, …), set on insert
    ADD COLUMN file_extension            text,
    ADD COLUMN file_category             text,
    -- AI enrichment (issue 6 fills them through attachment.enriched)
    ADD COLUMN document_type             text,
    ADD COLUMN classification_confidence real,
    ADD COLUMN extracted_metadata        jsonb,
    ADD COLUMN key_terms                 text[] NOT NULL DEFAULT '{}',
    ADD COLUMN thumbnail_path            text,
    -- why enrichment did not run (e.g. the tier's monthly AI quota was used up)
    ADD COLUMN ai_skipped_reason         text,
    ADD COLUMN access_count              integer NOT NULL DEFAULT 0,
    ADD COLUMN last_accessed_at          timestamptz;

-- What the library sorts and filters "date" by: the e-mail's date, else when it was stored.
ALTER TABLE catalog.attachments
    ADD COLUMN sort_date timestamptz GENERATED ALWAYS AS (coalesce(email_date, created_at)) STORED;

UPDATE catalog.attachments
SET file_extension = lower(substring(filename FROM '\.([A-Za-z0-9]{1,16})$'))
WHERE file_extension IS NULL;
