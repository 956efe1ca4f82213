-- PostgreSQL partitions the variant index and the per-specimen calls by chromosome here
-- (issue 21, the scale model). The embedded SQLite store is one file on one machine: its
-- tables stay as they are, and the migration numbers stay in step.
SELECT 1;
