-- Measured at 1.1M rows (tests/bench/library.py): the filters are correlated, and the
-- "contracts expiring soon" smart filter needs its own index.

CREATE STATISTICS catalog.attachments_type_category_extension (dependencies, ndistinct)
    ON document_type, file_category, file_extension FROM catalog.attachments;

CREATE INDEX attachments_lib_contract_expiry
    ON catalog.attachments (org_id, document_type, (extracted_metadata->>'expirationDate'))
    WHERE deleted_at IS NULL;

ANALYZE catalog.attachments;
