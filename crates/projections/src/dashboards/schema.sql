-- The sector and territory of an employer, the day of a visit, the
         -- jobs of a need and the age band of a person are kept as last
         -- corrected, in the immersions' copies too (a version made before
         -- this line did not follow corrections, and is built again).
         --
         -- With the earliest instant each employer was visited, had a need
         -- surfaced and began hosting an immersion: the employers engaged
         -- by any day are counted here, without grouping the activity.
         create table employers (
             employer_id uuid primary key,
             first_visited_at timestamptz,
             first_need_at timestamptz,
             first_hosted_at timestamptz,
             naf text not null,
             departement text,
             region text
         );
         create table people (
             person_id uuid primary key,
             structure uuid not null,
             referent uuid not null,
             enrolled_on date not null,
             departement text,
             region text,
             age_band text not null,
             -- Health data, kept only while consent stands and until erasure.
             disability boolean,
             project_at timestamptz
         );
         create table readjustments (
             person_id uuid not null,
             cause text not null,
             recorded_at timestamptz not null,
             global_position bigint not null,
             primary key (person_id, global_position)
         );
         create table visits (
             visit_id uuid primary key,
             employer_id uuid not null,
             structure uuid not null,
             mediator uuid not null,
             visited_on date not null,
             recorded_at timestamptz not null
         );
         create table needs (
             need_id uuid primary key,
             employer_id uuid not null,
             source text not null,
             structure uuid,
             mediator uuid,
             surfaced_on date not null,
             surfaced_at timestamptz not null,
             rome_codes text[] not null,
             immersion_at timestamptz,
             offer_at timestamptz,
             hired_at timestamptz
         );
         -- Fixed-width columns first: the figures scan this table, and a
         -- row's columns are read in order up to the last one needed.
         create table immersions (
             immersion_id uuid primary key,
             structure uuid not null,
             mediator uuid not null,
             person_id uuid not null,
             employer_id uuid not null,
             proposed_on date not null,
             proposed_at timestamptz not null,
             accepted_at timestamptz,
             signed_at timestamptz,
             validated_at timestamptz,
             started_at timestamptz,
             completed_at timestamptz,
             hired_or_trained_at timestamptz,
             -- The employer's answer to the proposal, either way.
             employer_answered_at timestamptz,
             -- Declined by either party.
             declined_at timestamptz,
             person_accepted_at timestamptz,
             employer_accepted_at timestamptz,
             need_id uuid,
             objective text not null,
             naf text,
             departement text,
             region text,
             age_band text,
             rome_codes text[] not null default '{}',
             required_signatories text[] not null default '{}',
             signatures text[] not null default '{}'
         );
         create index immersions_proposed_on on immersions (proposed_on);
         -- The filters most figures are read with, a territory and an
         -- objective: their rows found without reading every immersion.
         create index immersions_territory on immersions (departement, objective);
         -- The proposals of the last days, for the employers kept waiting.
         -- On the instant read at UTC, which orders rows as the instant
         -- does: an index on the instant itself would serve the other
         -- queries' `proposed_at <= $1` in a prepared statement's generic
         -- plan, a bitmap over nearly every row, slower than their scan.
         create index immersions_proposed_utc on immersions ((proposed_at at time zone 'UTC'));
         -- The immersions that copied what a correction changes (the
         -- employer's sector and territory, the person's age band, the
         -- need's jobs), found by key in a batch that applies one.
         create index immersions_employer on immersions (employer_id);
         create index immersions_person on immersions (person_id);
         create index immersions_need on immersions (need_id);
         -- A territory's employers, and the visits and needs of each, for
         -- the engagement figures of a département.
         create index employers_territory on employers (departement);
         create index visits_employer on visits (employer_id);
         create index needs_employer on needs (employer_id);
         -- A territory's people by age band, for the readjustments.
         create index people_territory on people (departement, age_band);
         create table outcomes (
             immersion_id uuid not null,
             milestone text not null,
             outcome text not null,
             contract text,
             recorded_at timestamptz not null,
             -- The domain records each milestone once.
             primary key (immersion_id, milestone)
         );
         -- Each delay between two steps, in seconds, once both are reached
         -- (a step keeps its first instant, so a delay never changes): the
         -- funnel's steps from the one before (1 to 6) and the employer's
         -- answer from the proposal (7). Ordered by step and length, the
         -- whole funnel's median is read at its position, with no sort.
         create table delays (
             immersion_id uuid not null,
             step smallint not null,
             seconds float8 not null,
             primary key (immersion_id, step)
         );
         create index delays_by_length on delays (step, seconds);
         -- The delays of each step counted by the hour they fall in
         -- (floor of seconds / 3600): the whole funnel's median is found
         -- in its hour from these counts, then read from that hour on.
         create table delay_hours (
             step smallint not null,
             hour bigint not null,
             n bigint not null,
             primary key (step, hour)
         );
         -- The outcomes counted by milestone, objective, outcome and
         -- contract ('' when none), kept with each outcome added: the
         -- figures of every immersion, as they stand, without a scan.
         create table outcome_totals (
             milestone text not null,
             objective text not null,
             outcome text not null,
             contract text not null,
             count bigint not null,
             primary key (milestone, objective, outcome, contract)
         );
         -- How many rows meet each condition the code counts, kept
         -- with each batch's changes: the figures of everything, as it
         -- stands, without a scan (immersions by step, employers, visits,
         -- needs, needs of each source by what became of them, people
         -- with a project by their readjustments, and readjustments by
         -- cause). A count no row met yet has no row.
         create table totals (
             name text primary key,
             n bigint not null
         );
