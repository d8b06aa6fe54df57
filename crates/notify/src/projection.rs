//! `notifications`: the mails events call for, queued in the outbox in the
//! projection's own batch transaction (so each event queues its mails
//! exactly once, whatever the replicas), and the parties to each
//! immersion's convention with the addresses it gives, for the mails to
//! them. Events recorded long before they are read (a rebuild, a first
//! start on an old log) queue nothing: a mail about a stale fact would
//! mislead.

use std::sync::Arc;

use async_trait::async_trait;
use passerelle_app::Clock;
use passerelle_domain::Personal;
use passerelle_domain::immersion::{Convention, Feedback, ImmersionEvent, Situation};
use passerelle_domain::need::{NeedEvent, NeedSource};
use passerelle_projections::views::{decode_one, in_category, purge_erased, stream_uuid};
use passerelle_store::projection::{Projection, ProjectionError};
use passerelle_store::{ERASED_EVENT, RecordedEvent};
use serde_json::{Map, Value, json};
use sqlx::PgConnection;
use time::Duration;
use uuid::Uuid;

use crate::outbox::{self, Entry, Params, Recipient};
use crate::templates::Template;

/// Events older than this when read queue no mail.
pub const STALE_AFTER: Duration = Duration::hours(24);

#[derive(Debug, Clone)]
pub struct Notifications {
    clock: Arc<dyn Clock>,
}

impl Notifications {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }
}

#[async_trait]
impl Projection for Notifications {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        in_category(event, "immersion")
            || in_category(event, "need")
            || event.event_type == ERASED_EVENT
    }

    fn schema_sql(&self) -> &'static str {
        "create table parties (
             immersion_id uuid primary key,
             structure uuid not null,
             mediator uuid not null,
             person_id uuid not null,
             employer_id uuid not null,
             person_feedback boolean not null default false,
             -- Personal: each party's name and address as the convention
             -- gives them, by role; the person's, their representative's and
             -- the tutor's are purged when the person is erased.
             contacts jsonb not null default '{}'
         );
         create index parties_person on parties (person_id);"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let now = self.clock.now();
        let mut mails = Vec::new();
        for event in events {
            let fresh = event.recorded_at >= now - STALE_AFTER;
            if in_category(event, "immersion") {
                immersion(conn, event, fresh.then_some(&mut mails)).await?;
            } else if in_category(event, "need") && fresh {
                need(event, &mut mails)?;
            }
        }
        // What the convention holds under the person's key goes with it; the
        // host's and the prescriber's addresses are not theirs.
        purge_erased(
            conn,
            events,
            "update parties set contacts = contacts - 'person' - 'legal_representative' - 'tutor'
             where person_id = $1",
        )
        .await?;
        outbox::enqueue(conn, &mails, now).await?;
        Ok(())
    }
}

fn key(event: &RecordedEvent, template: Template, to: &str) -> String {
    format!("event:{}:{}:{to}", event.event_id, template.name())
}

fn need(event: &RecordedEvent, mails: &mut Vec<Entry>) -> Result<(), ProjectionError> {
    if let NeedEvent::NeedSurfaced(e) = decode_one(event, "need")?
        && e.source == NeedSource::Portal
    {
        mails.push(Entry {
            key: key(event, Template::NeedFromPortal, "referent"),
            template: Template::NeedFromPortal,
            recipient: Recipient::Referent {
                employer_id: e.employer_id.0,
            },
            params: Params {
                need_id: Some(e.need_id.0),
                employer_id: Some(e.employer_id.0),
                ..Params::default()
            },
            structure: Some(event.tenant),
        });
    }
    Ok(())
}

async fn immersion(
    conn: &mut PgConnection,
    event: &RecordedEvent,
    mails: Option<&mut Vec<Entry>>,
) -> Result<(), ProjectionError> {
    let Some(id) = stream_uuid(event) else {
        return Ok(());
    };
    let mut queued = Vec::new();
    let params = Params {
        immersion_id: Some(id),
        ..Params::default()
    };
    let mut mail = |template: Template, recipient: Recipient, to: &str| {
        queued.push(Entry {
            key: key(event, template, to),
            template,
            recipient,
            params: params.clone(),
            structure: Some(event.tenant),
        })
    };
    let party = |role: &str| Recipient::Party {
        immersion_id: id,
        role: role.to_owned(),
    };
    match decode_one(event, "immersion")? {
        ImmersionEvent::ImmersionProposed(e) => {
            sqlx::query(
                "insert into parties (immersion_id, structure, mediator, person_id, employer_id)
                 values ($1, $2, $3, $4, $5) on conflict do nothing",
            )
            .bind(id)
            .bind(e.structure.0)
            .bind(e.mediator.0)
            .bind(e.person_id.0)
            .bind(e.employer_id.0)
            .execute(&mut *conn)
            .await?;
            mail(
                Template::ProposalToEmployer,
                Recipient::Employer {
                    employer_id: e.employer_id.0,
                },
                "employer",
            );
            mail(
                Template::ProposalToPerson,
                Recipient::Person {
                    person_id: e.person_id.0,
                },
                "person",
            );
        }
        ImmersionEvent::ConventionDrafted(e) => {
            convention(conn, id, &e.convention).await?;
            for role in passerelle_projections::views::required_signatories(&e.convention) {
                mail(Template::SignatureRequest, party(&role), &role);
            }
        }
        ImmersionEvent::ConventionModified(e) => {
            // Every signature given is void: each signatory signs again.
            convention(conn, id, &e.convention).await?;
            for role in passerelle_projections::views::required_signatories(&e.convention) {
                mail(Template::SignatureRequest, party(&role), &role);
            }
        }
        ImmersionEvent::ConventionValidated(e) if !e.renewal => {
            for role in ["person", "host", "tutor"] {
                mail(Template::ConventionValidated, party(role), role);
            }
        }
        ImmersionEvent::FeedbackRecorded(e) if matches!(e.feedback, Feedback::Person(_)) => {
            sqlx::query("update parties set person_feedback = true where immersion_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        _ => {}
    }
    if let Some(mails) = mails {
        mails.append(&mut queued);
    }
    Ok(())
}

/// The parties' names and addresses, by role, as the convention gives them.
async fn convention(
    conn: &mut PgConnection,
    id: Uuid,
    convention: &Convention,
) -> Result<(), sqlx::Error> {
    let mut contacts = Map::new();
    let mut add = |role: &str, name: &str, email: Option<&str>| {
        contacts.insert(role.to_owned(), json!({ "name": name, "email": email }));
    };
    if let Personal::Known(person) = &convention.person.identity {
        add(
            "person",
            person.first_name.as_str(),
            person.email.as_ref().map(|e| e.as_str()),
        );
    }
    if let Some(Personal::Known(rep)) = &convention.person.legal_representative {
        add(
            "legal_representative",
            rep.name.as_str(),
            rep.email.as_ref().map(|e| e.as_str()),
        );
    }
    if let Situation::Employed { current_employer } = &convention.person.situation {
        add(
            "current_employer",
            current_employer.signatory.name.as_str(),
            current_employer
                .signatory
                .email
                .as_ref()
                .map(|e| e.as_str()),
        );
    }
    let host = &convention.host.signatory;
    add(
        "host",
        host.name.as_str(),
        host.email.as_ref().map(|e| e.as_str()),
    );
    if let Personal::Known(tutor) = &convention.host.tutor {
        add(
            "tutor",
            tutor.name.as_str(),
            tutor.email.as_ref().map(|e| e.as_str()),
        );
    }
    let prescriber = &convention.prescriber.signatory;
    add(
        "prescriber",
        prescriber.name.as_str(),
        prescriber.email.as_ref().map(|e| e.as_str()),
    );
    if let Some(support) = &convention.support_structure {
        add(
            "support_structure",
            support.signatory.name.as_str(),
            support.signatory.email.as_ref().map(|e| e.as_str()),
        );
    }
    sqlx::query("update parties set contacts = $2 where immersion_id = $1")
        .bind(id)
        .bind(Value::Object(contacts))
        .execute(conn)
        .await?;
    Ok(())
}

/// A party's name and address, if the convention gives one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
}

/// An immersion's parties as this projection knows them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Parties {
    pub immersion_id: Uuid,
    pub structure: Uuid,
    pub mediator: Uuid,
    pub person_id: Uuid,
    pub employer_id: Uuid,
    pub person_feedback: bool,
    pub contacts: sqlx::types::Json<std::collections::HashMap<String, Contact>>,
}

pub async fn parties(
    db: impl sqlx::PgExecutor<'_>,
    immersion: Uuid,
) -> Result<Option<Parties>, sqlx::Error> {
    sqlx::query_as(
        "select immersion_id, structure, mediator, person_id, employer_id, person_feedback, contacts
         from notifications.parties where immersion_id = $1",
    )
    .bind(immersion)
    .fetch_optional(db)
    .await
}

/// Every immersion's parties.
pub async fn all_parties(db: impl sqlx::PgExecutor<'_>) -> Result<Vec<Parties>, sqlx::Error> {
    sqlx::query_as(
        "select immersion_id, structure, mediator, person_id, employer_id, person_feedback, contacts
         from notifications.parties",
    )
    .fetch_all(db)
    .await
}
