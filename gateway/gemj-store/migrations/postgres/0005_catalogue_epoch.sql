-- The catalogue epoch: incremented in the same transaction as every change to the tables the
-- gateway caches per instance (participants, specimens, data objects and their specimens,
-- datasets and their members, and the clinical tables Beacon indexes: sequencing runs,
-- analyses and their runs, diagnoses, phenotypes), so a cache tagged with the epoch it was read at is current
-- exactly while the epoch is unchanged. The change is announced on the `gemj_catalogue`
-- channel at commit; instances also poll the epoch (the catalogue cache in gemj-core).
-- Statement triggers: one bump per statement, however many rows it wrote. The row lock on the
-- epoch serialises catalogue writers (ingests) from their first change to their commit, which
-- is what makes the bump visible together with the data it announces.
CREATE TABLE catalogue_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO catalogue_epoch (id, epoch) VALUES (1, 0);

CREATE FUNCTION gemj_catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1;
    PERFORM pg_notify('gemj_catalogue', 'epoch');
    RETURN NULL;
END;
$$;

CREATE TRIGGER participants_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON participants
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER specimens_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON specimens
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER data_objects_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON data_objects
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER object_specimens_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON object_specimens
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER datasets_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON datasets
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER dataset_participants_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dataset_participants
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER dataset_objects_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dataset_objects
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER sequencing_runs_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sequencing_runs
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER analyses_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON analyses
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER analysis_runs_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON analysis_runs
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER diagnoses_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON diagnoses
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
CREATE TRIGGER phenotypes_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON phenotypes
    FOR EACH STATEMENT EXECUTE FUNCTION gemj_catalogue_changed();
