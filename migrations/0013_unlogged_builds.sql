-- A projection version built from the log keeps its tables unlogged until it
-- is made live: a build writes every row many times over, and none of those
-- writes needs the write-ahead log while nothing reads the version. The
-- tables are made logged (rewritten once, compacted) before the swap.
--
-- A server crash empties unlogged tables, so a version's checkpoint would
-- then claim rows that are gone. Each unlogged build has a row in the
-- unlogged table below, emptied by the same crash: a build whose row is
-- missing starts again from the start of the log.
--
-- `unlogged`: true while the version's tables are unlogged, false once they
-- are logged (made durable, or created live); null for a version made
-- before this migration, whose tables were always logged.
alter table projection_checkpoints add column unlogged boolean;

create unlogged table projection_build_markers (
    projection text not null,
    version integer not null,
    constraint projection_build_markers_pkey primary key (projection, version)
);
