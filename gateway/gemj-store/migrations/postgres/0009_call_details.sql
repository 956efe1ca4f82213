-- What a VCF says beyond who carries an allele, for FHIR Genomics: each carrier specimen's call
-- (copies of the allele and the genotype's ploidy, so zygosity; read depth and allele fraction
-- as given), what the record says about the allele (identifiers, gene, transcript effects,
-- ClinVar significance; JSON of gemj_model::variant::AlleleNotes), and the names an allele is
-- looked up by (dbSNP/ClinVar/COSMIC ids, transcript:c. HGVS). Rows are keyed like the variant
-- index (alleles by their hash, as long alleles do not fit a B-tree entry); specimens by their
-- bitmap ordinal.
CREATE TABLE variant_calls (
    dataset_key        BIGINT NOT NULL REFERENCES datasets (key),
    specimen           BIGINT NOT NULL,
    chrom              TEXT COLLATE "C" NOT NULL,
    pos                BIGINT NOT NULL,
    ref                TEXT COLLATE "C" NOT NULL,
    alt                TEXT COLLATE "C" NOT NULL,
    allele_hash        BYTEA GENERATED ALWAYS AS (decode(md5(ref || '>' || alt), 'hex')) STORED,
    copies             BIGINT NOT NULL,
    ploidy             BIGINT NOT NULL,
    allele_fraction    DOUBLE PRECISION,
    depth              BIGINT,
    allele_depth       BIGINT,
    total_allele_depth BIGINT,
    PRIMARY KEY (dataset_key, specimen, chrom, pos, allele_hash)
);

CREATE TABLE variant_notes (
    dataset_key BIGINT NOT NULL REFERENCES datasets (key),
    chrom       TEXT COLLATE "C" NOT NULL,
    pos         BIGINT NOT NULL,
    ref         TEXT COLLATE "C" NOT NULL,
    alt         TEXT COLLATE "C" NOT NULL,
    allele_hash BYTEA GENERATED ALWAYS AS (decode(md5(ref || '>' || alt), 'hex')) STORED,
    notes       TEXT NOT NULL,
    PRIMARY KEY (dataset_key, chrom, pos, allele_hash)
);

CREATE TABLE variant_names (
    name        TEXT COLLATE "C" NOT NULL,
    dataset_key BIGINT NOT NULL REFERENCES datasets (key),
    chrom       TEXT COLLATE "C" NOT NULL,
    pos         BIGINT NOT NULL,
    ref         TEXT COLLATE "C" NOT NULL,
    alt         TEXT COLLATE "C" NOT NULL,
    allele_hash BYTEA GENERATED ALWAYS AS (decode(md5(ref || '>' || alt), 'hex')) STORED,
    PRIMARY KEY (name, dataset_key, chrom, pos, allele_hash)
);
