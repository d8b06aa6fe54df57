-- The answer a mutation gave under a client's command id, so that the same
-- request sent again (a retry after a lost response) is answered as the
-- first time was, not with the object as it stands since. Sealed with the
-- master key (the answer names people) and kept one hour: long enough for a
-- client's retries, short enough that an erasure is not undone by it.
create table command_answers (
    command_id uuid primary key,
    -- Who sent it: another actor under the same id is never given it.
    actor text not null,
    -- HMAC of the field, its arguments and its selection.
    request_digest bytea not null,
    answer bytea not null,
    recorded_at timestamptz not null
);

create index command_answers_recorded_at on command_answers (recorded_at);
