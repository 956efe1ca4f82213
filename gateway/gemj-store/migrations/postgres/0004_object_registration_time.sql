-- When each data object was first registered (DRS `created_time`) and when its record last
-- changed (DRS `updated_time`), both RFC 3339 UTC text with six fractional digits like every
-- stored time. `registered_at` is set on insert and never rewritten; `updated_at` moves only
-- when a re-registration changes the record. Objects registered before this migration get the
-- migration's time: their true registration time was never recorded.
ALTER TABLE data_objects ADD COLUMN registered_at TEXT;
ALTER TABLE data_objects ADD COLUMN updated_at TEXT;
UPDATE data_objects
   SET registered_at = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       updated_at = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
ALTER TABLE data_objects ALTER COLUMN registered_at SET NOT NULL;
ALTER TABLE data_objects ALTER COLUMN updated_at SET NOT NULL;

-- Files by their index (an index object names the file it belongs to).
CREATE INDEX data_objects_by_index_object ON data_objects (index_object);
