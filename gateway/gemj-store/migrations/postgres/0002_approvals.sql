-- Approvals of the data-use review committee. Mutable in status only (active, suspended,
-- revoked); every status change also goes through the audit log of the service that made it.
CREATE TABLE approvals (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    researcher_issuer  TEXT COLLATE "C" NOT NULL,
    researcher_subject TEXT COLLATE "C" NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
    valid_from         TEXT NOT NULL,
    valid_until        TEXT NOT NULL,
    doc                TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX approvals_by_researcher ON approvals (researcher_issuer, researcher_subject);

CREATE TABLE approval_datasets (
    approval TEXT COLLATE "C" NOT NULL REFERENCES approvals (id),
    dataset  TEXT COLLATE "C" NOT NULL REFERENCES datasets (id),
    PRIMARY KEY (approval, dataset)
);
CREATE INDEX approval_datasets_by_dataset ON approval_datasets (dataset);
