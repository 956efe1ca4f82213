-- Revoked credentials, managed by administrators (/admin/v1/revocations): one token of an
-- issuer (kind 'token', value = its jti) or every token of one subject of an issuer (kind
-- 'subject', value = its sub). Every instance on the store polls this table.
CREATE TABLE revocations (
    kind       TEXT NOT NULL CHECK (kind IN ('token', 'subject')),
    issuer     TEXT NOT NULL,
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (kind, issuer, value)
);
