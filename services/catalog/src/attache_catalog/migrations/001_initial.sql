-- Catalog: the metadata of record. Every change writes an outbox row in the same transaction.

CREATE TABLE catalog.customers (
    id         uuid        PRIMARY KEY,
    org_id     text        NOT NULL,
    full_name  text        NOT NULL,
    email      text        NOT NULL,
    phone      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX customers_org_email ON catalog.customers (org_id, lower(email));
CREATE INDEX customers_org_page ON catalog.customers (org_id, created_at DESC, id DESC);

CREATE TABLE catalog.attachments (
    id                 uuid        PRIMARY KEY,
    org_id             text        NOT NULL,
    customer_id        uuid,
    bucket             text        NOT NULL,
    object_key         text        NOT NULL,
    filename           text        NOT NULL,
    content_type       text        NOT NULL,
    size_bytes         bigint      NOT NULL CHECK (size_bytes >= 0),
    uploaded_by        text        NOT NULL,
    etag               text,
    checksum_sha256    text,
    detected_mime_type text,
    text_length        integer,
    ai_status          text        NOT NULL DEFAULT 'pending',
    ai_error           text,
    ai_processed       boolean     NOT NULL DEFAULT false,
    ai_processed_at    timestamptz,
    ai_model_version   text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bucket, object_key),
    FOREIGN KEY (org_id, customer_id) REFERENCES catalog.customers (org_id, id)
);
CREATE INDEX attachments_customer_page
    ON catalog.attachments (org_id, customer_id, created_at DESC, id DESC);

CREATE TABLE catalog.outbox (
    id           bigserial   PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    event_type   text        NOT NULL,
    envelope     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON catalog.outbox (id) WHERE published_at IS NULL;

-- Wakes the relay as soon as a writing transaction commits (NOTIFY is delivered at commit).
CREATE FUNCTION catalog.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('catalog_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON catalog.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION catalog.notify_outbox();

CREATE TABLE catalog.processed_messages (
    consumer     text        NOT NULL,
    message_id   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
