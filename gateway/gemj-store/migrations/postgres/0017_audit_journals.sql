-- How far each replica's local audit journal has been shipped into the chain: the last
-- journal row whose event is in `audit_log`. Moved in the same transaction as the rows it
-- covers, so a journal row is shipped exactly once whatever crashes in between.
CREATE TABLE audit_journals (
    journal TEXT NOT NULL PRIMARY KEY,
    shipped BIGINT NOT NULL
);
