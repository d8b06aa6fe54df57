//! The views a mutation answers with, kept inline: in the append's own
//! transaction, so a command's caller reads its own writes. Each knows
//! events through the domain's event types.

pub mod employers;
pub mod immersions;
pub mod matching;
pub mod needs;
pub mod people;

use passerelle_store::RecordedEvent;
use passerelle_store::projection::ProjectionError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Whether the event belongs to a stream of this category (`immersion-…`).
pub fn in_category(event: &RecordedEvent, category: &str) -> bool {
    event
        .stream_id
        .strip_prefix(category)
        .is_some_and(|rest| rest.starts_with('-'))
}

/// The events of one stream category, decoded.
pub fn of_category<'a, E: DeserializeOwned>(
    events: &'a [RecordedEvent],
    category: &'a str,
) -> impl Iterator<Item = Result<(&'a RecordedEvent, E), ProjectionError>> + 'a {
    events
        .iter()
        .filter(move |e| in_category(e, category))
        .map(|e| {
            e.decode::<E>()
                .map(|decoded| (e, decoded))
                .map_err(|err| format!("{} {}: {err}", e.event_type, e.event_id).into())
        })
}

/// One event of a known category, decoded.
pub fn decode_one<E: DeserializeOwned>(
    event: &RecordedEvent,
    category: &str,
) -> Result<E, ProjectionError> {
    let (_, decoded) = of_category::<E>(std::slice::from_ref(event), category)
        .next()
        .ok_or_else(|| format!("{} is not of {category}", event.stream_id))??;
    Ok(decoded)
}

/// The staff member who issued an event (`user:<id>`), if staff did.
pub fn staff_actor(event: &RecordedEvent) -> Option<uuid::Uuid> {
    event.metadata.actor.strip_prefix("user:")?.parse().ok()
}

/// Who must sign a convention, as stored in text arrays.
pub fn required_signatories(convention: &passerelle_domain::immersion::Convention) -> Vec<String> {
    convention
        .required_signatories(&convention.period)
        .iter()
        .map(tag)
        .collect()
}

/// The JSON name of an enum value (`discover_job_or_sector`), as stored in
/// text columns.
pub fn tag<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => map
            .get("kind")
            .or_else(|| map.get("author"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// A stored value no variant of the enum reads back: the table holds what
/// this code does not know, a fault of ours rather than the reader's.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: unknown stored value {value:?}")]
pub struct UnknownTag {
    pub kind: &'static str,
    pub value: String,
}

/// The enum value a text column keeps by its [`tag`], read back.
pub fn untag<T: DeserializeOwned>(stored: &str) -> Result<T, UnknownTag> {
    serde_json::from_value(serde_json::Value::String(stored.to_owned())).map_err(|_| UnknownTag {
        kind: std::any::type_name::<T>(),
        value: stored.to_owned(),
    })
}

/// Each value of a text array column, read back.
pub fn untag_all<T: DeserializeOwned>(stored: &[String]) -> Result<Vec<T>, UnknownTag> {
    stored.iter().map(|s| untag(s)).collect()
}

/// The uuid after `<category>-` in a stream id.
pub fn stream_uuid(event: &RecordedEvent) -> Option<uuid::Uuid> {
    event
        .stream_id
        .split_once('-')
        .and_then(|(_, id)| id.parse().ok())
}

/// The subjects erased by the erasures among the events, in order.
pub fn erased_subjects(events: &[RecordedEvent]) -> Result<Vec<uuid::Uuid>, ProjectionError> {
    #[derive(serde::Deserialize)]
    struct Erased {
        subject_id: uuid::Uuid,
    }
    events
        .iter()
        .filter(|e| e.event_type == passerelle_store::ERASED_EVENT)
        .map(|event| {
            event
                .decode::<Erased>()
                .map(|e| e.subject_id)
                .map_err(|e| format!("{} {}: {e}", event.event_type, event.event_id).into())
        })
        .collect()
}

/// Runs `sql` (with the erased subject as `$1`) for each erasure among the
/// events: views that copied personal values purge them.
pub async fn purge_erased(
    conn: &mut sqlx::PgConnection,
    events: &[RecordedEvent],
    sql: &'static str,
) -> Result<(), ProjectionError> {
    for subject in erased_subjects(events)? {
        sqlx::query(sql).bind(subject).execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use passerelle_domain::immersion::{Objective, Signatory, Stage};
    use passerelle_domain::values::AgeBand;

    use super::*;

    #[test]
    fn a_stored_value_reads_back_into_its_enum() {
        for stage in [Stage::Proposed, Stage::Drafted, Stage::Completed] {
            assert_eq!(untag::<Stage>(&tag(&stage)).unwrap(), stage);
        }
        assert_eq!(untag::<AgeBand>("26_to_49").unwrap(), AgeBand::From26To49);
        assert_eq!(
            untag_all::<Signatory>(&["person".into(), "host".into()]).unwrap(),
            [Signatory::Person, Signatory::Host]
        );
    }

    #[test]
    fn an_unknown_stored_value_is_an_error_not_a_default() {
        let e = untag::<Objective>("discover").unwrap_err();
        assert_eq!(e.value, "discover");
        assert!(untag_all::<Signatory>(&["person".into(), "someone".into()]).is_err());
    }
}
