-- What a VCF says beyond who carries an allele, for FHIR Genomics: each carrier specimen's call
-- (copies of the allele and the genotype's ploidy, so zygosity; read depth and allele fraction
-- as given), what the record says about the allele (identifiers, gene, transcript effects,
-- ClinVar significance; JSON of gemj_model::variant::AlleleNotes), and the names an allele is
-- looked up by (dbSNP/ClinVar/COSMIC ids, transcript:c. HGVS). Rows are keyed like the variant
-- index; specimens by their bitmap ordinal.
CREATE TABLE variant_calls (
    dataset_key        INTEGER NOT NULL REFERENCES datasets (key),
    specimen           INTEGER NOT NULL,
    chrom              TEXT NOT NULL,
    pos                INTEGER NOT NULL,
    ref                TEXT NOT NULL,
    alt                TEXT NOT NULL,
    copies             INTEGER NOT NULL,
    ploidy             INTEGER NOT NULL,
    allele_fraction    REAL,
    depth              INTEGER,
    allele_depth       INTEGER,
    total_allele_depth INTEGER,
    PRIMARY KEY (dataset_key, specimen, chrom, pos, ref, alt)
) WITHOUT ROWID;

CREATE TABLE variant_notes (
    dataset_key INTEGER NOT NULL REFERENCES datasets (key),
    chrom       TEXT NOT NULL,
    pos         INTEGER NOT NULL,
    ref         TEXT NOT NULL,
    alt         TEXT NOT NULL,
    notes       TEXT NOT NULL,
    PRIMARY KEY (dataset_key, chrom, pos, ref, alt)
) WITHOUT ROWID;

CREATE TABLE variant_names (
    name        TEXT NOT NULL,
    dataset_key INTEGER NOT NULL REFERENCES datasets (key),
    chrom       TEXT NOT NULL,
    pos         INTEGER NOT NULL,
    ref         TEXT NOT NULL,
    alt         TEXT NOT NULL,
    PRIMARY KEY (name, dataset_key, chrom, pos, ref, alt)
) WITHOUT ROWID;
