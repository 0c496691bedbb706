-- The smart filters' predicates the planner can't estimate (JSON fields) get partial
-- indexes, so their counts read only matching rows (tests/bench/library.py).

CREATE INDEX attachments_lib_unpaid ON catalog.attachments (org_id, sort_date DESC)
    WHERE deleted_at IS NULL
      AND (extracted_metadata->>'paymentStatus' = 'unpaid' OR extracted_metadata->>'isPaid' = 'false');
CREATE INDEX attachments_lib_paid ON catalog.attachments (org_id, sort_date DESC)
    WHERE deleted_at IS NULL
      AND (extracted_metadata->>'paymentStatus' = 'paid' OR extracted_metadata->>'isPaid' = 'true');
CREATE INDEX attachments_lib_amount ON catalog.attachments (org_id, amount)
    WHERE deleted_at IS NULL AND amount IS NOT NULL;
