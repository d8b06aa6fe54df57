-- Staff accounts administered from the API: a member invited by a manager
-- has no password until they set one through the mailed link; the last
-- login is shown to managers; a structure covers départements.
alter table users alter column password_hash drop not null;
alter table users add column last_login_at timestamptz;

-- Départements a structure covers (INSEE codes, checked against the
-- referential by the API).
alter table structures add column departements text[] not null default '{}';

-- One-time links to set a password: an invitation, or a reset asked for.
-- Only the SHA-256 of the token is kept, as for sessions and magic links.
create table password_tokens (
    token_hash bytea primary key,
    user_id uuid not null references users,
    purpose text not null check (purpose in ('invitation', 'reset')),
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz
);
create index password_tokens_user on password_tokens (user_id);

-- Who changed which account or setting, and when: accounts are tables, not
-- events, so this is their history, read back by the structure's managers.
-- Rows name accounts by id and hold roles and setting names, never a
-- password or a token.
create table account_audit (
    id bigserial primary key,
    structure_id uuid not null references structures,
    -- Whoever acted: a staff account (null: the command line).
    actor_user_id uuid references users,
    actor_role text not null,
    action text not null,
    -- The account acted on, when one was.
    subject_user_id uuid references users,
    -- The role given (`staff_created`, `staff_role_changed`) and the one
    -- before (`staff_role_changed`).
    role text,
    previous_role text,
    -- The settings changed (`structure_updated`): `name`,
    -- `prevalidation_required`, `departements`.
    fields text[] not null default '{}',
    at timestamptz not null
);
create index account_audit_by_structure on account_audit (structure_id, id desc);
