-- Applications for access awaiting the data-use committee (the portal's "pending" approvals),
-- decided once: approved (the approval it recorded) or rejected, with who and why. And every
-- status change of an approval with its reason (the approval itself keeps only its status).
CREATE TABLE approval_applications (
    id                 TEXT NOT NULL PRIMARY KEY,
    researcher_issuer  TEXT NOT NULL,
    researcher_subject TEXT NOT NULL,
    submitted_at       TEXT NOT NULL,
    doc                TEXT NOT NULL,
    decision           TEXT CHECK (decision IN ('approved', 'rejected')),
    decided_at         TEXT,
    decided_by         TEXT,
    reason             TEXT,
    approval           TEXT REFERENCES approvals (id),
    CHECK ((decision IS NULL) = (decided_at IS NULL)),
    CHECK ((decision = 'approved') = (approval IS NOT NULL))
);
CREATE INDEX approval_applications_by_decision ON approval_applications (decision, submitted_at);
CREATE INDEX approval_applications_by_researcher
    ON approval_applications (researcher_issuer, researcher_subject);

CREATE TABLE approval_events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    approval TEXT NOT NULL REFERENCES approvals (id),
    at       TEXT NOT NULL,
    status   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    actor    TEXT NOT NULL
);
CREATE INDEX approval_events_by_approval ON approval_events (approval, seq);

-- The portal's sessions and sign-ins under way, shared by every instance: keyed by the SHA-256
-- of the browser's random id (or of the OpenID Connect `state`); the broker's access token and
-- the PKCE verifier are sealed (AES-256-GCM under a key derived from the data-URL key).
CREATE TABLE portal_sessions (
    id_hash   TEXT NOT NULL PRIMARY KEY,
    csrf      TEXT NOT NULL,
    token     BLOB NOT NULL,
    created   INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    expires   INTEGER NOT NULL
);
CREATE INDEX portal_sessions_by_expiry ON portal_sessions (expires);
CREATE TABLE portal_logins (
    state_hash TEXT NOT NULL PRIMARY KEY,
    sealed     BLOB NOT NULL,
    created    INTEGER NOT NULL
);
CREATE INDEX portal_logins_by_age ON portal_logins (created);
