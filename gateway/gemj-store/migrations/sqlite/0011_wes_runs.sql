-- WES runs (GA4GH WES 1.1): one row per run, whichever instance started it, so every replica
-- answers for every run and a restarted gateway reports each truthfully. `seq` orders a
-- caller's runs for paging; `instance` is the host of the gateway instance whose engine runs it;
-- `inputs` is JSON: the objects staged, whose data they hold, and the consent scope they were
-- authorised under (what the withdrawal watch re-checks).
CREATE TABLE wes_runs (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL UNIQUE,
    owner      TEXT NOT NULL,
    state      TEXT NOT NULL,
    request    TEXT NOT NULL,
    engine     TEXT NOT NULL,
    instance   TEXT NOT NULL,
    inputs     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    start_time TEXT,
    end_time   TEXT,
    exit_code  INTEGER,
    outputs    TEXT,
    log        TEXT NOT NULL,
    -- When the instance running it last said so (seconds since the epoch): a run silent for
    -- longer than `wes.stale_after_secs` is reported SYSTEM_ERROR by whichever instance notices.
    heartbeat  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX wes_runs_by_owner ON wes_runs (owner, seq);
CREATE INDEX wes_runs_by_state ON wes_runs (state);

-- Objects only their owner may see (a WES run's outputs): written before the object itself,
-- so an output is never visible to its datasets' other readers, not even for a moment. `held`:
-- an output of analysis-only inputs, not readable until the committee releases it (who, when).
CREATE TABLE object_owners (
    object      TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    held        BOOLEAN NOT NULL DEFAULT FALSE,
    released_by TEXT,
    released_at TEXT
);
