-- Which specimen's calls hold each allele, so that Beacon queries scoped to a biosample, a run
-- or an analysis return only what was called in it (a tumour's calls, not the same
-- individual's blood calls). Specimens get bitmap ordinals as participants do (assigned on
-- first insert, never changed; existing specimens numbered in id order), and each variant row
-- a roaring bitmap of the ordinals of the specimens whose calls hold the allele. NULL: rows
-- written before provenance was recorded (any specimen of a carrier).
ALTER TABLE specimens ADD COLUMN ordinal INTEGER;
UPDATE specimens SET ordinal = (SELECT COUNT(*) FROM specimens s WHERE s.id < specimens.id);
CREATE UNIQUE INDEX specimens_by_ordinal ON specimens (ordinal);
ALTER TABLE variants ADD COLUMN callsets BLOB;
