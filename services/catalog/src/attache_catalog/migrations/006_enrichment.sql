-- What the enricher reports beyond the columns of 004: the medium-size WebP preview beside
-- the thumbnail, the document's language and page count, and whether OCR ran ("used",
-- "not_needed", "unavailable" when no OCR engine is installed, "failed", "skipped").
ALTER TABLE catalog.attachments
    ADD COLUMN preview_path text,
    ADD COLUMN language     text,
    ADD COLUMN page_count   integer,
    ADD COLUMN ocr_status   text;
