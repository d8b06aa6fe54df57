-- The hash of the DDL each projection version was created with. A version
-- whose hash differs from the running code's is stale: the runner stops
-- applying it and builds a version with the current DDL, which replaces it
-- once caught up. Versions created before this column have no hash, so each
-- projection is rebuilt once after this migration.
alter table projection_checkpoints add column schema_hash text;
