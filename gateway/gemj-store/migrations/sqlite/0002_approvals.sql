-- Approvals of the data-use review committee. Mutable in status only (active, suspended,
-- revoked); every status change also goes through the audit log of the service that made it.
CREATE TABLE approvals (
    id                 TEXT NOT NULL PRIMARY KEY,
    researcher_issuer  TEXT NOT NULL,
    researcher_subject TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
    valid_from         TEXT NOT NULL,
    valid_until        TEXT NOT NULL,
    doc                TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX approvals_by_researcher ON approvals (researcher_issuer, researcher_subject);

CREATE TABLE approval_datasets (
    approval TEXT NOT NULL REFERENCES approvals (id),
    dataset  TEXT NOT NULL REFERENCES datasets (id),
    PRIMARY KEY (approval, dataset)
);
CREATE INDEX approval_datasets_by_dataset ON approval_datasets (dataset);
