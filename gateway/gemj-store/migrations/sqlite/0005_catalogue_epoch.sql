-- The catalogue epoch: incremented in the same transaction as every change to the tables the
-- gateway caches per instance (participants, specimens, data objects and their specimens,
-- datasets and their members, and the clinical tables Beacon indexes: sequencing runs,
-- analyses and their runs, diagnoses, phenotypes), so a cache tagged with the epoch it was read at is current
-- exactly while the epoch is unchanged. Instances poll it (the catalogue cache in gemj-core).
-- Row triggers: SQLite has no statement triggers; the row is already locked by the writer,
-- so each bump costs one in-page update.
CREATE TABLE catalogue_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);
INSERT INTO catalogue_epoch (id, epoch) VALUES (1, 0);

CREATE TRIGGER participants_ins_epoch AFTER INSERT ON participants
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER participants_upd_epoch AFTER UPDATE ON participants
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER participants_del_epoch AFTER DELETE ON participants
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER specimens_ins_epoch AFTER INSERT ON specimens
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER specimens_upd_epoch AFTER UPDATE ON specimens
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER specimens_del_epoch AFTER DELETE ON specimens
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER data_objects_ins_epoch AFTER INSERT ON data_objects
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER data_objects_upd_epoch AFTER UPDATE ON data_objects
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER data_objects_del_epoch AFTER DELETE ON data_objects
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER object_specimens_ins_epoch AFTER INSERT ON object_specimens
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER object_specimens_upd_epoch AFTER UPDATE ON object_specimens
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER object_specimens_del_epoch AFTER DELETE ON object_specimens
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER datasets_ins_epoch AFTER INSERT ON datasets
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER datasets_upd_epoch AFTER UPDATE ON datasets
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER datasets_del_epoch AFTER DELETE ON datasets
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER dataset_participants_ins_epoch AFTER INSERT ON dataset_participants
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER dataset_participants_upd_epoch AFTER UPDATE ON dataset_participants
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER dataset_participants_del_epoch AFTER DELETE ON dataset_participants
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER dataset_objects_ins_epoch AFTER INSERT ON dataset_objects
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER dataset_objects_upd_epoch AFTER UPDATE ON dataset_objects
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER dataset_objects_del_epoch AFTER DELETE ON dataset_objects
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER sequencing_runs_ins_epoch AFTER INSERT ON sequencing_runs
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER sequencing_runs_upd_epoch AFTER UPDATE ON sequencing_runs
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER sequencing_runs_del_epoch AFTER DELETE ON sequencing_runs
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER analyses_ins_epoch AFTER INSERT ON analyses
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER analyses_upd_epoch AFTER UPDATE ON analyses
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER analyses_del_epoch AFTER DELETE ON analyses
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER analysis_runs_ins_epoch AFTER INSERT ON analysis_runs
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER analysis_runs_upd_epoch AFTER UPDATE ON analysis_runs
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER analysis_runs_del_epoch AFTER DELETE ON analysis_runs
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER diagnoses_ins_epoch AFTER INSERT ON diagnoses
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER diagnoses_upd_epoch AFTER UPDATE ON diagnoses
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER diagnoses_del_epoch AFTER DELETE ON diagnoses
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;

CREATE TRIGGER phenotypes_ins_epoch AFTER INSERT ON phenotypes
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER phenotypes_upd_epoch AFTER UPDATE ON phenotypes
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER phenotypes_del_epoch AFTER DELETE ON phenotypes
BEGIN UPDATE catalogue_epoch SET epoch = epoch + 1 WHERE id = 1; END;
