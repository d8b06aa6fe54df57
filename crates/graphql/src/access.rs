//! The export of everything held about a person (RGPD art. 15, access, and
//! art. 20, portability): every fact of their path as recorded (their own
//! stream, their immersions' and their testimonies'), with who recorded it
//! and when, and the mails sent about them. One JSON document whose format
//! is `docs/DATA-PROTECTION.md`'s "Export" section; staff of the person's
//! structure produce it for them, and the person from their own space.

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use passerelle_accounts::health_log::ReadThrough;
use passerelle_app::{Recorded, policy};
use passerelle_domain::fr::event_label;
use passerelle_domain::values::PersonId;
use passerelle_domain::{ERASED_KEY, PERSONAL_KEY};
use passerelle_notify::{Delivery, Template};
use passerelle_projections::views::people;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::context::{actor, gateway};
use crate::error;
use crate::input::parse_id;

/// The format's name and version, written in every document.
pub const FORMAT: &str = "passerelle/export-personne/1";

/// At most this many mails are listed: far more than one person's path
/// causes, and a bound on the document.
const MAILS: i64 = 5_000;

/// At most this many reads of their health data are listed, newest first.
const HEALTH_READS: i64 = 5_000;

/// An export of a person's data.
#[derive(SimpleObject, Debug)]
pub struct PersonDataExport {
    /// `passerelle/export-personne/1`.
    format: &'static str,
    generated_at: OffsetDateTime,
    /// The whole document (its format is documented in
    /// `docs/DATA-PROTECTION.md`), to save as a `.json` file.
    document: Json<Value>,
}

#[derive(Default, Debug)]
pub struct AccessQuery;

#[Object]
impl AccessQuery {
    /// Everything held about a person: for the staff of their structure
    /// (health data only when made by their referent or a manager) and for
    /// the person themself, health data included.
    async fn person_data_export(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
    ) -> Result<PersonDataExport> {
        let actor = actor(ctx)?;
        let gw = gateway(ctx);
        let id = PersonId(parse_id(&person_id, "Personne")?);
        // Out of reach answers as if the person did not exist.
        if !policy::reaches_person(&gw.pool, &actor, id)
            .await
            .map_err(error::app)?
        {
            return Err(error::not_found("Personne"));
        }
        if !policy::exports_person_data(&actor) {
            return Err(error::forbidden());
        }
        let person = people::get(&gw.pool, id)
            .await
            .map_err(error::db)?
            .filter(|p| !p.erased)
            .ok_or_else(|| error::not_found("Personne"))?;
        let with_health = policy::exports_health_data(&actor, person.referent);

        let mut streams: Vec<String> = Vec::new();
        // Every stream of her path, the health fact's own included: the
        // facts are sorted below.
        for entry in people::timeline(&gw.pool, id, true)
            .await
            .map_err(error::db)?
        {
            if !streams.contains(&entry.stream_id) {
                streams.push(entry.stream_id);
            }
        }
        let mut facts = Vec::new();
        let mut withheld = 0;
        for stream in &streams {
            crate::context::read_stream(ctx, stream.clone())?;
            for recorded in gw
                .handler
                .history_of::<Value>(stream)
                .await
                .map_err(error::app)?
            {
                if recorded.event_type == people::HEALTH_FACT && !with_health {
                    withheld += 1;
                    continue;
                }
                facts.push(fact(stream, recorded));
            }
        }
        // Health data given is health data read: the log says by whom.
        if with_health && facts.iter().any(|f| f["type"] == people::HEALTH_FACT) {
            crate::health_log::record(ctx, &actor, id, ReadThrough::DataExport).await?;
        }
        let mails = passerelle_notify::outbox::about_person(&gw.pool, id.as_uuid(), MAILS)
            .await
            .map_err(error::db)?;

        // Who read their health data, for whoever may read it (this
        // export's read included).
        let health_reads = if with_health {
            passerelle_accounts::health_log::reads(
                &gw.pool,
                person.structure,
                Some(person.person_id),
                None,
                HEALTH_READS,
            )
            .await
            .map_err(|e| error::internal(&e))?
            .iter()
            .map(|r| {
                json!({
                    "readerRole": r.reader_role,
                    "reader": r.reader,
                    "through": r.through,
                    "readAt": rfc3339(r.read_at),
                })
            })
            .collect()
        } else {
            Vec::new()
        };
        let generated_at = gw.handler.clock().now();
        let document = json!({
            "format": FORMAT,
            "generatedAt": rfc3339(generated_at),
            "generatedByRole": actor.role.as_str(),
            "person": {
                "id": person.person_id,
                "structure": person.structure,
                "referent": person.referent,
                "firstName": person.first_name,
                "lastName": person.last_name,
                "ageBandAtEnrolment": person.age_band,
                "enrolledOn": person.enrolled_on.to_string(),
                "exitedOn": person.exited_on.map(|d| d.to_string()),
                "targetRomeCodes": person.target_rome_codes,
                "consents": person.consents,
            },
            "facts": facts,
            "healthFactsWithheld": withheld,
            "mails": mails.iter().map(mail).collect::<Vec<_>>(),
            "healthDataReads": health_reads,
        });
        Ok(PersonDataExport {
            format: FORMAT,
            generated_at,
            document: Json(document),
        })
    }
}

/// One recorded fact, its personal values given in clear.
fn fact(stream: &str, recorded: Recorded<Value>) -> Value {
    json!({
        "stream": stream,
        "version": recorded.version,
        "type": recorded.event_type,
        "label": event_label(&recorded.event_type),
        "recordedAt": rfc3339(recorded.recorded_at),
        "recordedBy": recorded.actor,
        "role": recorded.role,
        "data": opened(recorded.event),
    })
}

/// A mail about the person: what, to whom (a role, not an address), and
/// whether it went. Never its text.
fn mail(delivery: &Delivery) -> Value {
    let template = Template::parse(&delivery.template);
    json!({
        "template": delivery.template,
        "label": template.map(Template::label),
        "recipient": recipient_kind(&delivery.recipient),
        "state": delivery.state,
        "createdAt": rfc3339(delivery.created_at),
        "sentAt": delivery.sent_at.map(rfc3339),
    })
}

fn recipient_kind(recipient: &passerelle_notify::Recipient) -> String {
    use passerelle_notify::Recipient as R;
    match recipient {
        R::Staff { .. } => "staff".to_owned(),
        R::Person { .. } => "person".to_owned(),
        R::Employer { .. } | R::Contact { .. } => "employer".to_owned(),
        // Whoever follows the employer at the structure: staff.
        R::Referent { .. } => "staff".to_owned(),
        R::Party { role, .. } => format!("party:{role}"),
    }
}

/// The event's JSON with each personal value in clear: `{"$personal": v}`
/// becomes `v` (an erased one, `null`).
fn opened(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(inner) = map.get(PERSONAL_KEY) {
                    return opened(inner.clone());
                }
                if map.contains_key(ERASED_KEY) {
                    return Value::Null;
                }
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, opened(v)))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(opened).collect()),
        other => other,
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_values_are_given_in_clear_and_erased_ones_as_null() {
        let stored = json!({
            "person_id": "p",
            "identity": {"$personal": {"first_name": "Hélène", "tags": [{"$personal": "x"}]}},
            "words": {"$erased": true},
            "list": [{"$personal": 1}, 2],
        });
        assert_eq!(
            opened(stored),
            json!({
                "person_id": "p",
                "identity": {"first_name": "Hélène", "tags": ["x"]},
                "words": null,
                "list": [1, 2],
            })
        );
    }
}
