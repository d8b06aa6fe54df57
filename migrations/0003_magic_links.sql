-- Magic links for employers (scoped to their establishment) and people
-- accompanied (scoped to their own immersions), and the sessions they open.
-- Only SHA-256 hashes of tokens are kept.

create table magic_links (
    token_hash bytea primary key,
    principal_kind text not null check (principal_kind in ('employer', 'person')),
    principal_id uuid not null,
    structure_id uuid not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);

create index magic_links_principal on magic_links (principal_kind, principal_id);

create table principal_sessions (
    token_hash bytea primary key,
    principal_kind text not null check (principal_kind in ('employer', 'person')),
    principal_id uuid not null,
    structure_id uuid not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz
);
