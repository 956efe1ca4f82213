-- Ingest (adapters): the linkage of hospital patient ids to GeMJ ids, what the clinical sources
-- say beyond the catalogue (full birth dates, measurements, diagnosis details), and the orders a
-- source deleted. Names, addresses and phone numbers are never stored: there is no column for
-- them.

-- A hospital's patient id (institution code + the hospital's id) belongs to one participant.
-- SS-MIX2 names patients only this way; the ingest resolves through this table and reports
-- data whose hospital id is unknown instead of inventing a participant.
CREATE TABLE linkage (
    institution TEXT NOT NULL,
    patient     TEXT NOT NULL,
    participant TEXT NOT NULL REFERENCES participants (id),
    provenance  TEXT NOT NULL,
    PRIMARY KEY (institution, patient)
);
CREATE INDEX linkage_by_participant ON linkage (participant);

-- Diagnosis details (other codes, label, stage) as JSON; NULL when none.
ALTER TABLE diagnoses ADD COLUMN details TEXT;

-- The full birth date (the catalogue keeps year and month only), served only with a record.
CREATE TABLE demographics (
    participant TEXT PRIMARY KEY NOT NULL REFERENCES participants (id),
    birth_date  TEXT,
    provenance  TEXT NOT NULL
);

-- Measurements and laboratory results. `key` = order | code system | code | time
-- (`Measurement::key`), so a re-ingest finds the row it wrote.
CREATE TABLE measurements (
    participant TEXT NOT NULL REFERENCES participants (id),
    key         TEXT NOT NULL,
    order_no    TEXT,
    code        TEXT NOT NULL,
    effective   TEXT,
    doc         TEXT NOT NULL,
    PRIMARY KEY (participant, key)
);
CREATE INDEX measurements_by_order ON measurements (participant, order_no);

-- Orders a source deleted (SS-MIX2 condition flag 0): their results are removed and never
-- stored again, whatever order files arrive in.
CREATE TABLE deleted_orders (
    participant TEXT NOT NULL REFERENCES participants (id),
    order_no    TEXT NOT NULL,
    provenance  TEXT NOT NULL,
    PRIMARY KEY (participant, order_no)
);
