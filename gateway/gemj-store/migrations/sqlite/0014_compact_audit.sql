-- Audit at scale (issue 21): compact rows, sealed segments.
--
-- A row of `audit_records` cost about 1.1 KB: the event JSON plus copies of its fields, two hex
-- hashes and a text index. `audit_log` keeps what cannot be recomputed: the time, the
-- principal, the event packed (postcard, every repeated string a number in `audit_terms`, the
-- credential hashes and the request id as bytes) and the two hashes as bytes. The chain is
-- unchanged: a row's hash is still over the event JSON, which the store rebuilds from the
-- packed form (and `audit verify` recomputes), so altering a term breaks the chain too.
--
-- The store converts the rows of `audit_records` into `audit_log` at start, then drops it
-- (Store::migrate).

-- Every repeated string of the audit (APIs, endpoints, actions, resources, reasons, decisions,
-- approvals, principals, participants), once. Append-only.
CREATE TABLE audit_terms (
    id   INTEGER PRIMARY KEY NOT NULL,
    term TEXT NOT NULL UNIQUE
);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at_ns     INTEGER NOT NULL,
    principal INTEGER NOT NULL,
    packed    BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX audit_log_by_principal ON audit_log (principal, seq);

-- Who accessed participant X (a term id): kept when the rows are archived, so the participant
-- access report still finds them.
CREATE TABLE audit_access (
    participant INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (participant, seq)
) WITHOUT ROWID;

-- Sealed segments: a prefix of the chain exported to object storage (`location`, with its
-- SHA-256), with the chain heads that join it to the rows before and after it. Their rows
-- leave `audit_log`; `audit verify` fetches and verifies each segment.
CREATE TABLE audit_segments (
    first_seq INTEGER PRIMARY KEY NOT NULL,
    last_seq  INTEGER NOT NULL,
    rows      INTEGER NOT NULL,
    first_at  TEXT NOT NULL,
    last_at   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    head_hash TEXT NOT NULL,
    location  TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    bytes     INTEGER NOT NULL,
    sealed_at TEXT NOT NULL
);

CREATE TRIGGER audit_terms_no_update BEFORE UPDATE ON audit_terms
BEGIN SELECT RAISE(ABORT, 'audit_terms is append-only'); END;
CREATE TRIGGER audit_terms_no_delete BEFORE DELETE ON audit_terms
BEGIN SELECT RAISE(ABORT, 'audit_terms is append-only'); END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
-- A row leaves the log only once a sealed segment holds it.
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (
    SELECT 1 FROM audit_segments WHERE OLD.seq BETWEEN first_seq AND last_seq
)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only (rows leave only when archived)'); END;
CREATE TRIGGER audit_access_no_update BEFORE UPDATE ON audit_access
BEGIN SELECT RAISE(ABORT, 'audit_access is append-only'); END;
CREATE TRIGGER audit_access_no_delete BEFORE DELETE ON audit_access
BEGIN SELECT RAISE(ABORT, 'audit_access is append-only'); END;
CREATE TRIGGER audit_segments_no_update BEFORE UPDATE ON audit_segments
BEGIN SELECT RAISE(ABORT, 'audit_segments is append-only'); END;
CREATE TRIGGER audit_segments_no_delete BEFORE DELETE ON audit_segments
BEGIN SELECT RAISE(ABORT, 'audit_segments is append-only'); END;
