-- The raw insert `bench store` compares the store's appends with: the same
-- event into a copy of `events` (`create table bench_raw (like events
-- including all)`), without the compare-and-set, the fingerprint, the
-- given time or the order of the events. How to run it: as insert.sql
-- (docs/performance.md, "At equal connections, and what the compare-and-set
-- costs"), with `-D v=0`, once `bench_raw` is made.
insert into bench_raw (tenant, stream_id, version, event_id, event_type, schema_version, data,
                       actor, role, correlation_id, causation_id, command_id)
select '00000000-0000-0000-0000-00000000be7c', 'raw-' || :run || '-' || :client_id,
       :v + e.ord, e.event_id, e.event_type, e.schema_version, e.data::json,
       'bench', 'mediator', gen_random_uuid(), null, gen_random_uuid()
from unnest(array[gen_random_uuid()], array['NeedSurfaced'], array[1],
            array['{"n": 1, "label": "Besoin repéré chez un employeur"}'])
    with ordinality as e(event_id, event_type, schema_version, data, ord)
returning version as v, global_position, transaction_id, recorded_at \gset
