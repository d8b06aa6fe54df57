-- Event store: one append-only log, one row per stream holding its current
-- version (the compare-and-set target), per-subject keys for personal data
-- and projection checkpoints.

create table streams (
    stream_id text primary key,
    tenant uuid not null,
    version bigint not null check (version > 0)
);

create table events (
    global_position bigint generated always as identity,
    -- The writing transaction: readers follow (transaction_id, global_position)
    -- below the oldest running transaction, so an event committed late is never
    -- skipped (positions are drawn in one order and committed in another).
    -- The 64-bit full transaction id (xid8), kept as bigint so reading it costs
    -- no conversion per row.
    transaction_id bigint not null default pg_current_xact_id()::text::bigint,
    tenant uuid not null,
    stream_id text not null,
    version bigint not null check (version > 0),
    event_id uuid not null,
    event_type text not null,
    schema_version integer not null check (schema_version > 0),
    -- json, not jsonb: events are decoded by their readers, never queried
    -- inside by SQL, and json is stored and sent back as written, where jsonb
    -- is rebuilt into text for every row read (half of read-all's cost).
    data json not null,
    -- Metadata, typed: who acted, in which role, in which request and why.
    actor text not null,
    role text not null,
    correlation_id uuid not null,
    causation_id uuid,
    command_id uuid not null,
    recorded_at timestamptz not null default now(),
    constraint events_pkey primary key (stream_id, version),
    constraint events_event_id_key unique (event_id),
    constraint events_global_position_key unique (global_position)
);

create index events_commit_order on events (transaction_id, global_position);
create index events_correlation on events (correlation_id);

create function refuse_event_change() returns trigger
language plpgsql as $$
begin
    raise exception 'events are immutable: % refused', tg_op
        using errcode = 'restrict_violation';
end
$$;

create trigger events_are_immutable
    before update or delete on events
    for each row execute function refuse_event_change();

create trigger events_are_not_truncated
    before truncate on events
    for each statement execute function refuse_event_change();

-- One data key per data subject, wrapped with the deployment's master key.
-- Deleting the row is the erasure: every sealed field of that subject becomes
-- unreadable, in every event and every backup taken afterwards.
create table subject_keys (
    subject_id uuid primary key,
    wrapped_key bytea not null,
    created_at timestamptz not null default now()
);

-- Remembered so that no new key is ever made for an erased subject.
create table erased_subjects (
    subject_id uuid primary key,
    erased_at timestamptz not null default now()
);

create table projection_checkpoints (
    projection text not null,
    version integer not null check (version > 0),
    status text not null check (status in ('building', 'live', 'retired')),
    transaction_id bigint not null default 0,
    global_position bigint not null default 0,
    events_applied bigint not null default 0,
    failures integer not null default 0,
    last_error text,
    retry_at timestamptz,
    paused boolean not null default false,
    updated_at timestamptz not null default now(),
    constraint projection_checkpoints_pkey primary key (projection, version)
);

create unique index projection_checkpoints_one_live
    on projection_checkpoints (projection) where status = 'live';

-- A value sealed with the master key when the database first met it: a server
-- started with another key refuses to run instead of sealing with the wrong one.
create table master_key_check (
    singleton boolean primary key default true check (singleton),
    sealed bytea not null,
    created_at timestamptz not null default now()
);
