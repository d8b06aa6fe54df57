-- Who read a person's health data (their disability recognition, RQTH),
-- when, and through what: the access log a structure's managers consult
-- (CNIL treats it as health data). Rows hold ids and roles only, never the
-- value read; they outlive an erasure, which leaves them naming a person
-- nobody can read any more.
create table health_data_reads (
    id bigserial primary key,
    structure_id uuid not null,
    person_id uuid not null,
    -- `user:<id>` for staff, `person:<id>` for the person themself.
    reader text not null,
    reader_role text not null,
    -- `person_file` (the field read on the person) or `data_export`.
    through text not null,
    read_at timestamptz not null
);
create index health_data_reads_by_structure on health_data_reads (structure_id, id desc);
create index health_data_reads_by_person on health_data_reads (person_id, id desc);
