-- Beacon's query budgets and risk ledgers, shared by every instance on this database, so two
-- replicas enforce one budget, not two (issue 21). Times are milliseconds since the epoch.
--
-- One fixed window per key (`caller:<issuer#subject>` or `ip:<address>`): `used` queries since
-- `started_ms`; a window older than the configured length starts again at the next query.
CREATE TABLE query_windows (
    key        TEXT PRIMARY KEY,
    started_ms BIGINT NOT NULL,
    used       BIGINT NOT NULL
);
CREATE INDEX query_windows_by_start ON query_windows (started_ms);

-- Per requester and participant (its bitmap ordinal, stable across instances): how many small
-- positive answers the participant was part of, and when the last one was charged.
CREATE TABLE risk_charges (
    requester   TEXT NOT NULL,
    participant BIGINT NOT NULL,
    charges     BIGINT NOT NULL,
    at_ms       BIGINT NOT NULL,
    PRIMARY KEY (requester, participant)
);
CREATE INDEX risk_charges_by_time ON risk_charges (at_ms);
