-- append.sql with the insert read through a CTE, as a fused append (one
-- with inline writes after it) reads it, and as every append did before.
-- How to run it: docs/performance.md, "At equal connections, and what the
-- compare-and-set costs".
with cas as (
    update streams set version = version + 1
    where stream_id = 'cte-' || :run || '-' || :client_id and version = :v
    returning version - 1 as base
),
ins as (
    insert into events (tenant, stream_id, version, event_id, event_type, schema_version, data,
                        actor, role, correlation_id, causation_id, command_id, recorded_at,
                        command_fingerprint)
    select '00000000-0000-0000-0000-00000000be7c', 'cte-' || :run || '-' || :client_id,
           cas.base + e.ord, e.event_id, e.event_type, e.schema_version, e.data::json,
           'bench', 'mediator', gen_random_uuid(), null, gen_random_uuid(),
           coalesce(null::timestamptz, now()), case when e.ord = 1 then null::bytea end
    from cas cross join unnest(array[gen_random_uuid()], array['NeedSurfaced'], array[1],
                               array['{"n": 1, "label": "Besoin repéré chez un employeur"}'])
        with ordinality as e(event_id, event_type, schema_version, data, ord)
    order by e.ord
    returning version, global_position, transaction_id, recorded_at
)
select version as v, global_position, transaction_id, recorded_at from ins \gset
