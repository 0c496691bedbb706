-- Rejected and aborted upload sessions are kept a while (a repeated confirm gets the same
-- answer), then purged by the sweeper; this index finds the old ones without a scan.
CREATE INDEX upload_sessions_settled ON gateway.upload_sessions (created_at)
    WHERE status IN ('rejected', 'aborted');
