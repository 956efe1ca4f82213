-- A WES run's outputs belong to the caller's project (issue 20): the project under whose
-- approval the run's inputs were authorised. `owner` stays the submitter; any caller holding an
-- approval in force for the same project reads the output too (each still under the rules of
-- the output's datasets). NULL: the owner alone (a run with no approved project).
ALTER TABLE object_owners ADD COLUMN project TEXT;
