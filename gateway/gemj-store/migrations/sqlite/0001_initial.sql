-- The GeMJ store schema for SQLite. The PostgreSQL schema (migrations/postgres) has the same
-- tables and columns; only types and dialect differ. Each table keeps the columns that are
-- queried as real, indexed columns; `doc` columns hold the whole model value as JSON and are
-- what is read back.

CREATE TABLE institutions (
    id   TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL
);

-- `ordinal` is assigned by the store on first insert (0, 1, 2, ...) and never changes: it is the
-- participant's position in variant carrier bitmaps.
CREATE TABLE participants (
    id          TEXT PRIMARY KEY NOT NULL,
    ordinal     INTEGER NOT NULL UNIQUE,
    institution TEXT NOT NULL REFERENCES institutions (id),
    sex         TEXT NOT NULL,
    birth       TEXT,
    program     TEXT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX participants_by_institution ON participants (institution);

CREATE TABLE specimens (
    id            TEXT PRIMARY KEY NOT NULL,
    participant   TEXT NOT NULL REFERENCES participants (id),
    parent        TEXT REFERENCES specimens (id),
    specimen_type TEXT NOT NULL,
    collected     TEXT,
    doc           TEXT NOT NULL
);
CREATE INDEX specimens_by_participant ON specimens (participant);
CREATE INDEX specimens_by_parent ON specimens (parent);

CREATE TABLE sequencing_runs (
    id               TEXT PRIMARY KEY NOT NULL,
    specimen         TEXT NOT NULL REFERENCES specimens (id),
    library_strategy TEXT NOT NULL,
    platform         TEXT NOT NULL,
    run_date         TEXT,
    doc              TEXT NOT NULL
);
CREATE INDEX sequencing_runs_by_specimen ON sequencing_runs (specimen);

CREATE TABLE analyses (
    id               TEXT PRIMARY KEY NOT NULL,
    pipeline_name    TEXT NOT NULL,
    pipeline_version TEXT NOT NULL,
    reference_genome TEXT NOT NULL,
    analysis_date    TEXT,
    doc              TEXT NOT NULL
);

CREATE TABLE analysis_runs (
    analysis TEXT NOT NULL REFERENCES analyses (id),
    run      TEXT NOT NULL REFERENCES sequencing_runs (id),
    position INTEGER NOT NULL,
    PRIMARY KEY (analysis, run)
) WITHOUT ROWID;
CREATE INDEX analysis_runs_by_run ON analysis_runs (run);

-- `index_object` has no foreign key so that a file and its index may be registered in either
-- order.
CREATE TABLE data_objects (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    format       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    md5          TEXT NOT NULL,
    storage_uri  TEXT NOT NULL,
    index_object TEXT,
    participant  TEXT REFERENCES participants (id),
    analysis     TEXT REFERENCES analyses (id),
    doc          TEXT NOT NULL
);
CREATE INDEX data_objects_by_participant ON data_objects (participant);
CREATE INDEX data_objects_by_analysis ON data_objects (analysis);
CREATE INDEX data_objects_by_sha256 ON data_objects (sha256);

CREATE TABLE object_specimens (
    object   TEXT NOT NULL REFERENCES data_objects (id),
    specimen TEXT NOT NULL REFERENCES specimens (id),
    PRIMARY KEY (object, specimen)
) WITHOUT ROWID;
CREATE INDEX object_specimens_by_specimen ON object_specimens (specimen);

-- `key` is a compact surrogate used by the variant index instead of repeating the id per row.
CREATE TABLE datasets (
    key          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    access_level TEXT NOT NULL,
    data_use     TEXT NOT NULL
);

CREATE TABLE dataset_participants (
    dataset     TEXT NOT NULL REFERENCES datasets (id),
    participant TEXT NOT NULL REFERENCES participants (id),
    PRIMARY KEY (dataset, participant)
) WITHOUT ROWID;
CREATE INDEX dataset_participants_by_participant ON dataset_participants (participant);

CREATE TABLE dataset_objects (
    dataset TEXT NOT NULL REFERENCES datasets (id),
    object  TEXT NOT NULL REFERENCES data_objects (id),
    PRIMARY KEY (dataset, object)
) WITHOUT ROWID;
CREATE INDEX dataset_objects_by_object ON dataset_objects (object);

-- Dates are stored in their text form (2005, 2005-03, 1989-01-07) so that precision survives.
CREATE TABLE diagnoses (
    participant   TEXT NOT NULL REFERENCES participants (id),
    icd10         TEXT NOT NULL,
    category      TEXT NOT NULL,
    source_code   TEXT NOT NULL,
    source_system TEXT,
    onset         TEXT,
    recorded      TEXT,
    provenance    TEXT NOT NULL,
    PRIMARY KEY (participant, icd10)
) WITHOUT ROWID;
CREATE INDEX diagnoses_by_icd10 ON diagnoses (icd10);
CREATE INDEX diagnoses_by_category ON diagnoses (category);

CREATE TABLE phenotypes (
    participant TEXT NOT NULL REFERENCES participants (id),
    hpo         TEXT NOT NULL,
    status      TEXT NOT NULL,
    onset       TEXT,
    provenance  TEXT NOT NULL,
    PRIMARY KEY (participant, hpo)
) WITHOUT ROWID;
CREATE INDEX phenotypes_by_hpo ON phenotypes (hpo);

CREATE TABLE genes (
    gene_id   TEXT PRIMARY KEY NOT NULL,
    name      TEXT NOT NULL,
    chrom     TEXT NOT NULL,
    start_pos INTEGER NOT NULL,
    end_pos   INTEGER NOT NULL,
    strand    TEXT NOT NULL
);
CREATE INDEX genes_by_name ON genes (name);

CREATE TABLE recontact_requests (
    id         TEXT PRIMARY KEY NOT NULL,
    requester  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc        TEXT NOT NULL
);
CREATE INDEX recontact_requests_by_requester ON recontact_requests (requester);

CREATE TABLE recontact_participants (
    request     TEXT NOT NULL REFERENCES recontact_requests (id),
    participant TEXT NOT NULL REFERENCES participants (id),
    status      TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (request, participant)
) WITHOUT ROWID;
CREATE INDEX recontact_participants_by_participant ON recontact_participants (participant);

-- Consent events: append-only, hash-chained per participant. `body` is the event JSON exactly as
-- hashed. Participants and institutions have no foreign key: consent may arrive before data.
CREATE TABLE consent_events (
    seq          INTEGER PRIMARY KEY NOT NULL,
    institution  TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    participant  TEXT NOT NULL,
    effective_at TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    body         TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    UNIQUE (institution, event_id)
);
CREATE INDEX consent_events_by_participant ON consent_events (participant, seq);

-- The projection of each participant's events, rewritten in the transaction that appends one.
CREATE TABLE consent_states (
    participant TEXT PRIMARY KEY NOT NULL,
    status      TEXT NOT NULL,
    state       TEXT NOT NULL,
    head_seq    INTEGER NOT NULL,
    head_hash   TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX consent_states_by_status ON consent_states (status);

-- One row: the consent epoch (incremented by every appended event) and the last consent seq.
-- Appenders lock it, which serialises consent appends.
CREATE TABLE consent_epoch (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    epoch    INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
);
INSERT INTO consent_epoch (id, epoch, last_seq) VALUES (1, 0, 0);

-- Audit records: append-only, one global hash chain. `body` is the event JSON exactly as hashed.
CREATE TABLE audit_records (
    seq        INTEGER PRIMARY KEY NOT NULL,
    at         TEXT NOT NULL,
    request_id TEXT NOT NULL,
    api        TEXT NOT NULL,
    principal  TEXT NOT NULL,
    action     TEXT NOT NULL,
    resource   TEXT NOT NULL,
    decision   TEXT NOT NULL,
    body       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_records_by_principal ON audit_records (principal, seq);
CREATE INDEX audit_records_by_resource ON audit_records (resource, seq);

-- Who accessed participant X: one row per participant named in an audit record.
CREATE TABLE audit_participants (
    participant TEXT NOT NULL,
    seq         INTEGER NOT NULL REFERENCES audit_records (seq),
    PRIMARY KEY (participant, seq)
) WITHOUT ROWID;

-- One row: the head of the audit chain. Appenders lock it, so concurrent appenders never fork
-- the chain, and verification compares it with the last row (rows removed from the end).
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only tables refuse updates and deletes, whoever asks.
CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
CREATE TRIGGER audit_participants_no_update BEFORE UPDATE ON audit_participants
BEGIN SELECT RAISE(ABORT, 'audit_participants is append-only'); END;
CREATE TRIGGER audit_participants_no_delete BEFORE DELETE ON audit_participants
BEGIN SELECT RAISE(ABORT, 'audit_participants is append-only'); END;
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;

-- The variant index: one row per dataset and allele, with the carriers as a serialized roaring
-- bitmap of participant ordinals. The primary key serves exact and range lookups.
CREATE TABLE variants (
    dataset_key   INTEGER NOT NULL REFERENCES datasets (key),
    chrom         TEXT NOT NULL,
    pos           INTEGER NOT NULL,
    ref           TEXT NOT NULL,
    alt           TEXT NOT NULL,
    allele_count  INTEGER NOT NULL,
    carrier_count INTEGER NOT NULL,
    carriers      BLOB NOT NULL,
    PRIMARY KEY (dataset_key, chrom, pos, ref, alt)
) WITHOUT ROWID;
