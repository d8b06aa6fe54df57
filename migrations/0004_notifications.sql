-- Email notifications: an outbox of mails to send, scheduled jobs and their
-- runs, and recipients' preferences. No address, name or link token is kept
-- here: a mail's recipient is a reference (a staff member, a person, an
-- employer, a party to a convention) resolved when it is sent, so erasure
-- reaches queued mail too.

create table outbox (
    id bigint generated always as identity primary key,
    -- What the mail is about, derived from its cause: `event:<event id>:…`
    -- or `job:…`, then the template and the recipient. Unique, so a replayed
    -- event, a retried job or a second replica never queues it twice.
    key text not null unique,
    template text not null,
    recipient jsonb not null,
    params jsonb not null default '{}',
    -- Legally needed mails (signature requests, magic links) ignore the
    -- recipient's opt-out.
    essential boolean not null,
    structure_id uuid,
    immersion_id uuid,
    state text not null default 'queued'
        check (state in ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts int not null default 0,
    next_attempt_at timestamptz not null,
    -- A sender holds a mail it is sending until then; past it, the sender
    -- is taken for dead and the mail is tried again.
    claimed_until timestamptz,
    last_answer text,
    message_id text,
    created_at timestamptz not null,
    sent_at timestamptz
);

create index outbox_due on outbox (next_attempt_at) where state in ('queued', 'sending');
create index outbox_failed on outbox (id) where state = 'failed';
create index outbox_immersion on outbox (immersion_id, id);
create index outbox_structure on outbox (structure_id, id desc);

create table scheduled_jobs (
    name text primary key,
    -- The last schedule instant a run was made for.
    last_tick timestamptz not null
);

create table job_runs (
    id bigint generated always as identity primary key,
    job text not null,
    tick timestamptz not null,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    outcome text not null check (outcome in ('succeeded', 'failed')),
    items int not null default 0,
    error text,
    unique (job, tick)
);

-- Keyed by a SHA-256 of the lowercased address.
create table notification_preferences (
    address_hash bytea primary key,
    muted boolean not null,
    updated_at timestamptz not null
);

-- The link in each optional mail that lets its recipient turn them off.
create table preference_links (
    token_hash bytea primary key,
    address_hash bytea not null,
    created_at timestamptz not null
);
