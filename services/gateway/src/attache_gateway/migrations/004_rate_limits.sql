-- Gateway: per-user request counters of the rate limits (rate_limits.py), shared by every
-- replica. One row per (tenant, user, one-minute window); a request is admitted when the
-- current window's count plus the previous window's count, weighted by how much of the
-- previous window still overlaps the last 60 seconds, stays within the tier's limit.
-- Only admitted requests are counted. Windows older than the previous one are deleted
-- every minute.
--
-- UNLOGGED: counters are worth no WAL. After a crash of PostgreSQL (or on a promoted
-- standby) the table starts empty, which only forgives the last minute's requests.

CREATE UNLOGGED TABLE gateway.rate_limit_windows (
    org_id        text        NOT NULL,
    user_id       text        NOT NULL,
    window_start  timestamptz NOT NULL,
    count         integer     NOT NULL,
    PRIMARY KEY (org_id, user_id, window_start)
) WITH (fillfactor = 70);  -- room for HOT updates: the counter changes on every request

CREATE INDEX rate_limit_windows_window_start ON gateway.rate_limit_windows (window_start);
