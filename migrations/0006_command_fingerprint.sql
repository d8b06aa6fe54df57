-- A digest of the command that appended the events, kept on a command's first
-- event: a command id sent again with another command (or by another actor)
-- is refused instead of answering as the first command did. Events appended
-- before this column have none, and a retry of their command is accepted as
-- before. Nullable without a default: adding it rewrites no row.
alter table events add column command_fingerprint bytea;
