-- The same event inserted into the same table without the compare-and-set:
-- the append statement of append.sql less its update of the stream's row.
insert into events (tenant, stream_id, version, event_id, event_type, schema_version, data,
                    actor, role, correlation_id, causation_id, command_id, recorded_at,
                    command_fingerprint)
select '00000000-0000-0000-0000-00000000be7c', 'ins-' || :run || '-' || :client_id,
       :v + e.ord, e.event_id, e.event_type, e.schema_version, e.data::json,
       'bench', 'mediator', gen_random_uuid(), null, gen_random_uuid(),
       coalesce(null::timestamptz, now()), case when e.ord = 1 then null::bytea end
from unnest(array[gen_random_uuid()], array['NeedSurfaced'], array[1],
            array['{"n": 1, "label": "Besoin repéré chez un employeur"}'])
    with ordinality as e(event_id, event_type, schema_version, data, ord)
order by e.ord
returning version as v, global_position, transaction_id, recorded_at \gset
