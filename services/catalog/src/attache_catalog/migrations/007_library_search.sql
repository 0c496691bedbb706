-- Search, filters and statistics of the attachment library at a million rows per tenant.

CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The text a search matches: filename (split on punctuation), sender, subject, key terms
-- and the values of the extracted metadata. Declared immutable for the generated column
-- (array_to_string is only "stable" in general, but is immutable for text[]).
CREATE FUNCTION catalog.search_document(
    filename text, sender_name text, sender_email text, email_subject text,
    key_terms text[], extracted_metadata jsonb
) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('simple'::regconfig,
        regexp_replace(coalesce(filename, ''), '[^[:alnum:]]+', ' ', 'g') || ' ' ||
        coalesce(sender_name, '') || ' ' ||
        regexp_replace(coalesce(sender_email, ''), '[@.]', ' ', 'g') || ' ' ||
        coalesce(email_subject, '') || ' ' ||
        array_to_string(key_terms, ' ') || ' ' ||
        regexp_replace(coalesce(extracted_metadata::text, ''), '"[A-Za-z]+":|[{}",]', ' ', 'g'))
$$;

-- An amount from extracted metadata, or NULL when it isn't a number (never an error).
CREATE FUNCTION catalog.metadata_amount(metadata jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v ~ '^-?[0-9]{1,15}(\.[0-9]{1,6})?$' THEN v::numeric END
    FROM (SELECT coalesce(metadata->>'amount', metadata->>'total') AS v) s
$$;

ALTER TABLE catalog.attachments
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        catalog.search_document(filename, sender_name, sender_email, email_subject, key_terms,
                                extracted_metadata)) STORED,
    ADD COLUMN amount numeric GENERATED ALWAYS AS (catalog.metadata_amount(extracted_metadata)) STORED;

UPDATE catalog.attachments SET file_category = 'other' WHERE file_category IS NULL;

-- One index per sort order (each with the id tie-break the keyset cursor needs), the
-- tenant first; partial on live rows so tombstones cost nothing.
CREATE INDEX attachments_lib_date ON catalog.attachments (org_id, sort_date DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX attachments_lib_name ON catalog.attachments (org_id, lower(filename), id)
    WHERE deleted_at IS NULL;
CREATE INDEX attachments_lib_size ON catalog.attachments (org_id, size_bytes DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX attachments_lib_sender ON catalog.attachments (org_id, coalesce(sender_email, ''), id)
    WHERE deleted_at IS NULL;
CREATE INDEX attachments_lib_type ON catalog.attachments (org_id, coalesce(document_type, ''), id)
    WHERE deleted_at IS NULL;
CREATE INDEX attachments_lib_doctype_date ON catalog.attachments (org_id, document_type, sort_date DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX attachments_lib_category_date ON catalog.attachments (org_id, file_category, sort_date DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX attachments_lib_sender_date ON catalog.attachments (org_id, sender_email, sort_date DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX attachments_lib_unprocessed ON catalog.attachments (org_id, sort_date DESC)
    WHERE deleted_at IS NULL AND NOT ai_processed;
CREATE INDEX attachments_lib_search ON catalog.attachments USING gin (org_id, search_vector)
    WHERE deleted_at IS NULL;

-- Statistics per tenant, kept current by statement-level triggers (set-wise, so a COPY
-- of a million rows updates them with one aggregate, not a million upserts).
CREATE TABLE catalog.attachment_rollups (
    org_id     text    NOT NULL,
    dimension  text    NOT NULL,
    value      text    NOT NULL,
    label      text,
    count      bigint  NOT NULL DEFAULT 0,
    size_bytes bigint  NOT NULL DEFAULT 0,
    amount     numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, dimension, value)
);

-- What one live row contributes to each dimension.
CREATE FUNCTION catalog.rollup_contributions(
    document_type text, file_extension text, file_category text, sort_date timestamptz,
    sender_email text, sender_name text, ai_processed boolean, extracted_metadata jsonb,
    amount numeric
) RETURNS TABLE (dimension text, value text, label text, amount numeric)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT * FROM (VALUES
        ('total', '', NULL::text, NULL::numeric),
        ('document_type', document_type, NULL, NULL),
        ('file_extension', coalesce(file_extension, ''), NULL, NULL),
        ('file_category', coalesce(file_category, 'other'), NULL, NULL),
        ('month', to_char(sort_date AT TIME ZONE 'UTC', 'YYYY-MM'), NULL, NULL),
        ('sender', sender_email, sender_name, NULL),
        ('ai_processed', CASE WHEN ai_processed THEN 'true' END, NULL, NULL),
        ('invoice', CASE WHEN document_type = 'invoice' THEN '' END, NULL, amount),
        ('invoice_unpaid', CASE WHEN document_type = 'invoice'
                                 AND (extracted_metadata->>'paymentStatus' = 'unpaid'
                                      OR extracted_metadata->>'isPaid' = 'false') THEN '' END,
         NULL, amount),
        ('receipt', CASE WHEN document_type = 'receipt' THEN '' END, NULL, amount)
    ) c(dimension, value, label, amount)
    WHERE c.value IS NOT NULL
$$;

-- Transition tables can't be shared between events, hence one trigger per event; the
-- function reads only the tables its event has (TG_OP guards the other branch).
CREATE FUNCTION catalog.apply_rollups_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog.attachment_rollups AS r (org_id, dimension, value, label, count, size_bytes, amount)
    SELECT n.org_id, c.dimension, c.value, max(c.label), count(*), sum(n.size_bytes), coalesce(sum(c.amount), 0)
    FROM new_rows n
    CROSS JOIN LATERAL catalog.rollup_contributions(
        n.document_type, n.file_extension, n.file_category, n.sort_date, n.sender_email,
        n.sender_name, n.ai_processed, n.extracted_metadata, n.amount) c
    WHERE n.deleted_at IS NULL
    GROUP BY n.org_id, c.dimension, c.value
    ON CONFLICT (org_id, dimension, value) DO UPDATE SET
        count = r.count + excluded.count,
        size_bytes = r.size_bytes + excluded.size_bytes,
        amount = r.amount + excluded.amount,
        label = coalesce(excluded.label, r.label);
    RETURN NULL;
END $$;

CREATE FUNCTION catalog.apply_rollups_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog.attachment_rollups AS r (org_id, dimension, value, label, count, size_bytes, amount)
    SELECT o.org_id, c.dimension, c.value, NULL, -count(*), -sum(o.size_bytes), -coalesce(sum(c.amount), 0)
    FROM old_rows o
    CROSS JOIN LATERAL catalog.rollup_contributions(
        o.document_type, o.file_extension, o.file_category, o.sort_date, o.sender_email,
        o.sender_name, o.ai_processed, o.extracted_metadata, o.amount) c
    WHERE o.deleted_at IS NULL
    GROUP BY o.org_id, c.dimension, c.value
    ON CONFLICT (org_id, dimension, value) DO UPDATE SET
        count = r.count + excluded.count,
        size_bytes = r.size_bytes + excluded.size_bytes,
        amount = r.amount + excluded.amount;
    RETURN NULL;
END $$;

CREATE FUNCTION catalog.apply_rollups_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (
        SELECT 1 AS sign, n.* FROM new_rows n WHERE n.deleted_at IS NULL
        UNION ALL
        SELECT -1 AS sign, o.* FROM old_rows o WHERE o.deleted_at IS NULL
    ), net AS (
        SELECT ch.org_id, c.dimension, c.value, max(c.label) AS label, sum(ch.sign) AS count,
               sum(ch.sign * ch.size_bytes) AS size_bytes,
               coalesce(sum(ch.sign * c.amount), 0) AS amount
        FROM changed ch
        CROSS JOIN LATERAL catalog.rollup_contributions(
            ch.document_type, ch.file_extension, ch.file_category, ch.sort_date,
            ch.sender_email, ch.sender_name, ch.ai_processed, ch.extracted_metadata, ch.amount) c
        GROUP BY ch.org_id, c.dimension, c.value
    )
    INSERT INTO catalog.attachment_rollups AS r (org_id, dimension, value, label, count, size_bytes, amount)
    SELECT org_id, dimension, value, label, count, size_bytes, amount FROM net
    -- An access-count bump changes nothing here: skip the no-op upserts.
    WHERE count <> 0 OR size_bytes <> 0 OR amount <> 0
    ON CONFLICT (org_id, dimension, value) DO UPDATE SET
        count = r.count + excluded.count,
        size_bytes = r.size_bytes + excluded.size_bytes,
        amount = r.amount + excluded.amount,
        label = coalesce(excluded.label, r.label);
    RETURN NULL;
END $$;

CREATE TRIGGER attachments_rollups_insert AFTER INSERT ON catalog.attachments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog.apply_rollups_insert();
CREATE TRIGGER attachments_rollups_update AFTER UPDATE ON catalog.attachments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog.apply_rollups_update();
CREATE TRIGGER attachments_rollups_delete AFTER DELETE ON catalog.attachments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog.apply_rollups_delete();

-- Rows that existed before the rollups.
INSERT INTO catalog.attachment_rollups (org_id, dimension, value, label, count, size_bytes, amount)
SELECT a.org_id, c.dimension, c.value, max(c.label), count(*), sum(a.size_bytes), coalesce(sum(c.amount), 0)
FROM catalog.attachments a
CROSS JOIN LATERAL catalog.rollup_contributions(
    a.document_type, a.file_extension, a.file_category, a.sort_date, a.sender_email,
    a.sender_name, a.ai_processed, a.extracted_metadata, a.amount) c
WHERE a.deleted_at IS NULL
GROUP BY a.org_id, c.dimension, c.value;

-- AI processing used per user and calendar month (the tier's monthly quota, seed 004).
CREATE TABLE catalog.ai_usage (
    org_id  text    NOT NULL,
    user_id text    NOT NULL,
    month   date    NOT NULL,
    used    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, user_id, month)
);
