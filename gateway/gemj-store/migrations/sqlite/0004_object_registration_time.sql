-- When each data object was first registered (DRS `created_time`) and when its record last
-- changed (DRS `updated_time`), both RFC 3339 UTC text with six fractional digits like every
-- stored time. `registered_at` is set on insert and never rewritten; `updated_at` moves only
-- when a re-registration changes the record. Objects registered before this migration get the
-- migration's time: their true registration time was never recorded.
-- SQLite cannot add a NOT NULL column without a constant default; the store always binds both.
ALTER TABLE data_objects ADD COLUMN registered_at TEXT NOT NULL DEFAULT '';
ALTER TABLE data_objects ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
UPDATE data_objects
   SET registered_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z',
       updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z';

-- Files by their index (an index object names the file it belongs to).
CREATE INDEX data_objects_by_index_object ON data_objects (index_object);
