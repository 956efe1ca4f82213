-- SMART Backend Services client assertions already exchanged for a token, by issuer and jti,
-- kept until they expire: a replay is refused by every instance sharing the database, not only
-- by the one that saw the assertion first.
CREATE TABLE used_assertions (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_assertions_by_expiry ON used_assertions (expires_at);
