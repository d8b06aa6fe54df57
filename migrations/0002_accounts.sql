-- Structures (the tenants), their staff accounts and login sessions. Not
-- events: who may log in is operational state, not part of a person's path.

create table structures (
    structure_id uuid primary key,
    name text not null unique,
    created_at timestamptz not null default now()
);

create table users (
    user_id uuid primary key,
    structure_id uuid not null references structures,
    role text not null check (role in ('admin', 'manager', 'mediator')),
    email text not null unique,
    name text not null,
    -- argon2id, PHC string.
    password_hash text not null,
    created_at timestamptz not null default now(),
    disabled_at timestamptz
);

create index users_structure on users (structure_id);

-- Only the SHA-256 of a token is kept: a copy of this table opens nothing.
create table sessions (
    token_hash bytea primary key,
    user_id uuid not null references users,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz
);

create index sessions_user on sessions (user_id);
