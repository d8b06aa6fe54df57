-- An append of one event checked against the events' primary key instead of
-- the stream's row (not what the store runs; measured as an alternative,
-- docs/performance.md, "Checking the version against the events' key"):
-- the stream must hold version :v, and a writer that lost the race to
-- :v + 1 fails on `events_pkey`, after its position was drawn. Each
-- client's stream needs its event at version 1 first (`pk-` streams).
insert into events (tenant, stream_id, version, event_id, event_type, schema_version, data,
                    actor, role, correlation_id, causation_id, command_id, recorded_at,
                    command_fingerprint)
select '00000000-0000-0000-0000-00000000be7c', 'pk-' || :run || '-' || :client_id,
       :v + e.ord, e.event_id, e.event_type, e.schema_version, e.data::json,
       'bench', 'mediator', gen_random_uuid(), null, gen_random_uuid(),
       coalesce(null::timestamptz, now()), case when e.ord = 1 then null::bytea end
from unnest(array[gen_random_uuid()], array['NeedSurfaced'], array[1],
            array['{"n": 1, "label": "Besoin repéré chez un employeur"}'])
    with ordinality as e(event_id, event_type, schema_version, data, ord)
where exists (select 1 from events
              where stream_id = 'pk-' || :run || '-' || :client_id and version = :v)
order by e.ord
returning version as v, global_position, transaction_id, recorded_at \gset
