-- The variant index and the per-specimen calls partitioned by chromosome (issue 21, the scale
-- model): at national scale these are the two largest tables (docs/PERFORMANCE.md, "Scale
-- model"), and a partition per chromosome keeps each one's indexes, VACUUM and rebuilds to a
-- chromosome's share, lets a region query touch one partition, and is the unit a later move to
-- several nodes (Citus, or native partitions on foreign servers) distributes. Every key
-- already leads with `chrom` after the dataset, so no query changes.
--
-- The rows are copied once into the partitioned tables; on a large store this migration takes
-- as long as rewriting both tables.

ALTER TABLE variants RENAME TO variants_unpartitioned;
ALTER TABLE variant_calls RENAME TO variant_calls_unpartitioned;

CREATE TABLE variants (
    dataset_key   BIGINT NOT NULL REFERENCES datasets (key),
    chrom         TEXT COLLATE "C" NOT NULL,
    pos           BIGINT NOT NULL,
    ref           TEXT COLLATE "C" NOT NULL,
    alt           TEXT COLLATE "C" NOT NULL,
    allele_hash   BYTEA GENERATED ALWAYS AS (decode(md5(ref || '>' || alt), 'hex')) STORED,
    allele_count  BIGINT NOT NULL,
    carrier_count BIGINT NOT NULL,
    carriers      BYTEA NOT NULL,
    callsets      BYTEA,
    PRIMARY KEY (dataset_key, chrom, pos, allele_hash)
) PARTITION BY LIST (chrom);

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
) PARTITION BY LIST (chrom);

-- chr1..chr22, chrX, chrY, chrM (with the names GRCh37-style files use), and one partition
-- for every other contig (alternates, decoys, unplaced).
DO $$
DECLARE
    c TEXT;
    names TEXT;
BEGIN
    FOR c IN SELECT unnest(ARRAY['1','2','3','4','5','6','7','8','9','10','11','12','13','14',
                                 '15','16','17','18','19','20','21','22','X','Y','M'])
    LOOP
        names := format('%L, %L', 'chr' || c, c);
        IF c = 'M' THEN
            names := names || ', ''MT''';
        END IF;
        EXECUTE format('CREATE TABLE variants_chr%s PARTITION OF variants FOR VALUES IN (%s)',
                       c, names);
        EXECUTE format('CREATE TABLE variant_calls_chr%s PARTITION OF variant_calls FOR VALUES IN (%s)',
                       c, names);
    END LOOP;
END
$$;
CREATE TABLE variants_other PARTITION OF variants DEFAULT;
CREATE TABLE variant_calls_other PARTITION OF variant_calls DEFAULT;

INSERT INTO variants (dataset_key, chrom, pos, ref, alt, allele_count, carrier_count, carriers,
                      callsets)
SELECT dataset_key, chrom, pos, ref, alt, allele_count, carrier_count, carriers, callsets
FROM variants_unpartitioned;
INSERT INTO variant_calls (dataset_key, specimen, chrom, pos, ref, alt, copies, ploidy,
                           allele_fraction, depth, allele_depth, total_allele_depth)
SELECT dataset_key, specimen, chrom, pos, ref, alt, copies, ploidy, allele_fraction, depth,
       allele_depth, total_allele_depth
FROM variant_calls_unpartitioned;

DROP TABLE variants_unpartitioned;
DROP TABLE variant_calls_unpartitioned;
