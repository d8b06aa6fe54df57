-- Retention of personal data: a person with no fact recorded on their path
-- for `retention.inactive_months` is announced to their referent, then
-- erased `retention.grace_days` later unless a referent or a manager
-- extended their retention. Both tables name people by id only; their rows
-- go with the person's erasure.

-- The warning given, once per period of inactivity: `last_activity` is the
-- newest fact when it was given, so a person active again and inactive
-- later is warned anew.
create table retention_notices (
    person_id uuid not null,
    structure_id uuid not null,
    last_activity timestamptz not null,
    warned_on date not null,
    referent uuid not null,
    primary key (person_id, warned_on)
);

-- An extension: the person is kept until `until` (inclusive) whatever
-- their inactivity. The reason may name the person: erased with them.
create table retention_extensions (
    id bigint generated always as identity primary key,
    person_id uuid not null,
    structure_id uuid not null,
    until date not null,
    reason text not null,
    extended_by uuid not null,
    extended_at timestamptz not null
);

create index retention_extensions_person on retention_extensions (person_id, until desc);
