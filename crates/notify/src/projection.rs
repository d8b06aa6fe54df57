//! `notifications`: the mails events call for, queued in the outbox in the
//! projection's own batch transaction (so each event queues its mails
//! exactly once, whatever the replicas), and the parties to each
//! immersion's convention with the addresses it gives, for the mails to
//! them. Events recorded long before they are read (a rebuild, a first
//! start on an old log) queue nothing: a mail about a stale fact would
//! mislead.
//!
//! A mail to an establishment goes to each of its contacts the mail's
//! structure vouches for (the one that added it), one entry each: the link
//! it carries opens a session scoped to that structure, which must not
//! reach a contact another structure added.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use passerelle_app::Clock;
use passerelle_domain::Personal;
use passerelle_domain::employer::{ContactAdded, EmployerEvent};
use passerelle_domain::immersion::{
    Convention, Feedback, ImmersionEvent, ImmersionProposed, Situation,
};
use passerelle_domain::need::{NeedEvent, NeedSource};
use passerelle_projections::views::employers::{self, ContactRow};
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
            || (in_category(event, "employer") && event.event_type == ContactAdded::TYPE)
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
             -- The convention's signatories (`person`, `host`…): a renewal
             -- asks each of them to sign again.
             signatories text[] not null default '{}',
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
        let mut contacts = Contacts::load(conn, events, now).await?;
        let mut mails = Vec::new();
        for event in events {
            let fresh = event.recorded_at >= now - STALE_AFTER;
            if in_category(event, "immersion") {
                immersion(conn, event, fresh.then_some((&mut mails, &contacts))).await?;
            } else if in_category(event, "need") && fresh {
                need(event, &mut mails)?;
            } else if in_category(event, "employer") {
                contact_added(event, fresh, &mut contacts, &mut mails)?;
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
        drop_erased(conn, &mut mails).await?;
        outbox::enqueue(conn, &mails, now).await?;
        Ok(())
    }
}

/// Leaves out the mails to or about a person erased since their events: a
/// rebuild, or a batch that ends with the erasure, must not queue again
/// what the erasure deleted from the outbox.
async fn drop_erased(
    conn: &mut PgConnection,
    mails: &mut Vec<Entry>,
) -> Result<(), ProjectionError> {
    if mails.is_empty() {
        return Ok(());
    }
    let people: Vec<Uuid> = mails
        .iter()
        .filter_map(|m| match m.recipient {
            Recipient::Person { person_id } => Some(person_id),
            _ => None,
        })
        .collect();
    let immersions: Vec<Uuid> = mails.iter().filter_map(|m| m.params.immersion_id).collect();
    // Serialised with the erasures of the people these mails are about:
    // an erasure holds its person's lock while it deletes their mails, so
    // either it finishes first and is seen below, or it waits for this
    // batch to commit and then deletes what it queued. Without the lock, a
    // batch reading before the erasure commits and committing after it
    // would leave its mails in the outbox. In order, so that two batches
    // never wait on each other.
    sqlx::query(
        "select pg_advisory_xact_lock_shared(hashtextextended(p::text, 0))
         from (select distinct p from (
                   select unnest($1::uuid[]) as p
                   union all
                   select person_id from parties where immersion_id = any($2)) concerned
               order by p) ordered",
    )
    .bind(&people)
    .bind(&immersions)
    .execute(&mut *conn)
    .await?;
    let erased: Vec<Uuid> = sqlx::query_scalar(
        "select subject_id from erased_subjects where subject_id = any($1)
         union all
         select p.immersion_id from parties p
         join erased_subjects e on e.subject_id = p.person_id
         where p.immersion_id = any($2)",
    )
    .bind(&people)
    .bind(&immersions)
    .fetch_all(&mut *conn)
    .await?;
    if erased.is_empty() {
        return Ok(());
    }
    mails.retain(|m| {
        let person = match m.recipient {
            Recipient::Person { person_id } => Some(person_id),
            _ => None,
        };
        !person.is_some_and(|p| erased.contains(&p))
            && !m.params.immersion_id.is_some_and(|i| erased.contains(&i))
    });
    Ok(())
}

fn key(event: &RecordedEvent, template: Template, to: &str) -> String {
    format!("event:{}:{}:{to}", event.event_id, template.name())
}

/// The contacts kept of the establishments the batch's fresh events mail,
/// read in one query; and the contacts the batch adds, not yet told of
/// those added before them.
struct Contacts {
    of: HashMap<Uuid, Vec<ContactRow>>,
    added_later: HashSet<Uuid>,
}

impl Contacts {
    async fn load(
        conn: &mut PgConnection,
        events: &[RecordedEvent],
        now: time::OffsetDateTime,
    ) -> Result<Self, ProjectionError> {
        let mut employers = HashSet::new();
        let mut added_later = HashSet::new();
        for event in events {
            if event.recorded_at < now - STALE_AFTER {
                continue;
            }
            if in_category(event, "employer") && event.event_type == ContactAdded::TYPE {
                if let EmployerEvent::ContactAdded(e) = decode_one(event, "employer")? {
                    added_later.insert(e.contact_id.0);
                }
                employers.extend(stream_uuid(event));
            } else if in_category(event, "immersion")
                && event.event_type == ImmersionProposed::TYPE
                && let ImmersionEvent::ImmersionProposed(e) = decode_one(event, "immersion")?
            {
                employers.insert(e.employer_id.0);
            }
        }
        let mut of: HashMap<Uuid, Vec<ContactRow>> = HashMap::new();
        if !employers.is_empty() {
            let employers: Vec<Uuid> = employers.into_iter().collect();
            for c in employers::contacts_of_employers(&mut *conn, &employers, false).await? {
                of.entry(c.employer_id).or_default().push(c);
            }
        }
        Ok(Self { of, added_later })
    }

    /// The contacts of the establishment with an address.
    fn reachable(&self, employer: Uuid) -> impl Iterator<Item = &ContactRow> {
        self.of
            .get(&employer)
            .into_iter()
            .flatten()
            .filter(|c| c.email.is_some())
    }
}

/// A contact added: the establishment's other contacts are told, whichever
/// structure vouches for them, since someone may now act for it. Each mail
/// is of the recipient's own structure, so its link opens no more than the
/// recipient already had.
fn contact_added(
    event: &RecordedEvent,
    fresh: bool,
    contacts: &mut Contacts,
    mails: &mut Vec<Entry>,
) -> Result<(), ProjectionError> {
    let (Some(employer), EmployerEvent::ContactAdded(e)) =
        (stream_uuid(event), decode_one(event, "employer")?)
    else {
        return Ok(());
    };
    contacts.added_later.remove(&e.contact_id.0);
    if !fresh {
        return Ok(());
    }
    let template = Template::EmployerContactAdded;
    for c in contacts.reachable(employer) {
        if c.contact_id == e.contact_id.0 || contacts.added_later.contains(&c.contact_id) {
            continue;
        }
        mails.push(Entry {
            key: key(event, template, &format!("contact:{}", c.contact_id)),
            template,
            recipient: Recipient::Contact {
                employer_id: employer,
                contact_id: c.contact_id,
            },
            params: Params {
                employer_id: Some(employer),
                ..Params::default()
            },
            structure: Some(c.structure),
        });
    }
    Ok(())
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
    mails: Option<(&mut Vec<Entry>, &Contacts)>,
) -> Result<(), ProjectionError> {
    let Some(id) = stream_uuid(event) else {
        return Ok(());
    };
    let mut queued = Vec::new();
    let decoded = decode_one(event, "immersion")?;
    let params = Params {
        immersion_id: Some(id),
        with_message: matches!(&decoded, ImmersionEvent::ImmersionProposed(e) if e.message.is_some()),
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
    match decoded {
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
            if let Some((_, contacts)) = &mails {
                for c in contacts
                    .reachable(e.employer_id.0)
                    .filter(|c| c.structure == e.structure.0)
                {
                    mail(
                        Template::ProposalToEmployer,
                        Recipient::Contact {
                            employer_id: e.employer_id.0,
                            contact_id: c.contact_id,
                        },
                        &format!("contact:{}", c.contact_id),
                    );
                }
            }
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
        ImmersionEvent::ConventionRenewed(_) => {
            // A renewal is a new commitment of every party to the
            // convention: each signs it again (L5135-4).
            let roles: Vec<String> =
                sqlx::query_scalar("select signatories from parties where immersion_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .unwrap_or_default();
            for role in roles {
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
    if let Some((mails, _)) = mails {
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
    sqlx::query("update parties set contacts = $2, signatories = $3 where immersion_id = $1")
        .bind(id)
        .bind(Value::Object(contacts))
        .bind(passerelle_projections::views::required_signatories(
            convention,
        ))
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
