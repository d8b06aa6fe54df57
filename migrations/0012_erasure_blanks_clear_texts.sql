-- Events stay immutable, with one exception: an erasure writes over the free
-- texts that events recorded before those texts were sealed hold in clear
-- (`Store::erase_clear_in`). Such an update may change the event's data and
-- raise its schema version (to the version its upcasters read it as), and
-- nothing else, and only in a transaction that sets `passerelle.erasure` to
-- `on` for itself (`set_config(…, true)`). Every other update, every delete
-- and every truncate is refused as before.
create or replace function refuse_event_change() returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE' and current_setting('passerelle.erasure', true) = 'on' then
        if new.schema_version > old.schema_version
           and (new.global_position, new.transaction_id, new.tenant, new.stream_id,
                new.version, new.event_id, new.event_type, new.actor, new.role,
                new.correlation_id, new.causation_id, new.command_id, new.recorded_at,
                new.command_fingerprint)
               is not distinct from
               (old.global_position, old.transaction_id, old.tenant, old.stream_id,
                old.version, old.event_id, old.event_type, old.actor, old.role,
                old.correlation_id, old.causation_id, old.command_id, old.recorded_at,
                old.command_fingerprint)
        then
            return new;
        end if;
    end if;
    raise exception 'events are immutable: % refused', tg_op
        using errcode = 'restrict_violation';
end
$$;
