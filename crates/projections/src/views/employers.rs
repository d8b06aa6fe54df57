//! `employers`: every registered establishment, shared across structures,
//! with its visits (who visited, when, why).

use async_trait::async_trait;
use passerelle_domain::employer::EmployerEvent;
use passerelle_domain::values::{EmployerId, Siret, VisitId, search_key};
use passerelle_store::projection::{Mode, Projection, ProjectionError};
use passerelle_store::{ERASED_EVENT, InlineWrite, RecordedEvent};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};

use super::{of_category, tag};
use crate::rows::{Inserts, Rows, keyed};

#[derive(Debug, Clone, Copy)]
pub struct Employers;

#[async_trait]
impl Projection for Employers {
    fn name(&self) -> &'static str {
        "employers"
    }

    fn mode(&self) -> Mode {
        Mode::Inline
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        super::in_category(event, "employer") || event.event_type == ERASED_EVENT
    }

    fn schema_sql(&self) -> &'static str {
        "create table employers (
             employer_id uuid primary key,
             siret text not null unique,
             name text not null,
             naf text not null,
             commune text not null,
             -- The commune it counts under: Paris, Lyon or Marseille for an
             -- establishment in one of their arrondissements.
             municipality text not null,
             departement text,
             region text,
             address text,
             registered_at timestamptz not null,
             registered_by_structure uuid not null,
             simultaneous_immersions int,
             visits int not null default 0,
             last_visit date,
             -- The name folded for searching (`search_key`).
             name_key text not null
         );
         create index employers_name on employers (name, employer_id);
         create index employers_municipality on employers (municipality);
         create index employers_departement on employers (departement);
         create table visits (
             visit_id uuid primary key,
             employer_id uuid not null,
             visited_on date not null,
             mediator uuid not null,
             structure uuid not null,
             purpose text not null,
             observations text not null,
             next_step text
         );
         create index visits_employer on visits (employer_id, visited_on desc);
         create index visits_structure on visits (structure, employer_id);
         -- Personal: kept to send magic links, purged when the contact is erased.
         -- A contact reaches the establishment's immersions of the structure
         -- that added it (vouches for it), and of no other. A removed contact
         -- keeps its row without its address, so that removing it again
         -- knows whose it was.
         create table contacts (
             contact_id uuid primary key,
             employer_id uuid not null,
             structure uuid not null,
             email text,
             removed boolean not null default false
         );
         create index contacts_email on contacts (email);
         create index contacts_employer on contacts (employer_id);"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let erased = super::erased_subjects(events)?;
        let events: Vec<(&RecordedEvent, EmployerEvent)> =
            of_category(events, "employer").collect::<Result<_, _>>()?;
        // A visit only adds to its employer's counters, in one statement
        // for the batch: the employer's row is read for the other events.
        let (mut employers, mut contacts) = (Vec::new(), erased.clone());
        for (recorded, event) in &events {
            match event {
                EmployerEvent::ContactAdded(e) => contacts.push(e.contact_id.0),
                EmployerEvent::ContactRemoved(e) => contacts.push(e.contact_id.0),
                EmployerEvent::EmployerVisitLogged(_) => {}
                _ => employers.extend(super::stream_uuid(recorded)),
            }
        }
        let mut employers = Rows::<EmployerRow>::load(conn, employers).await?;
        let mut contacts = Rows::<ContactRow>::load(conn, contacts).await?;
        let mut visits = Inserts::<VisitRow>::new("visits");
        let mut visited = Visited::default();
        let mut corrected_visits = Vec::new();
        for subject in erased {
            contacts.remove(subject);
        }
        for (recorded, event) in events {
            let id = super::stream_uuid(recorded);
            match event {
                EmployerEvent::EmployerRegistered(e) => {
                    let commune = e.commune.commune();
                    employers.insert(EmployerRow {
                        employer_id: e.employer_id.0,
                        siret: e.siret.as_str().to_owned(),
                        name: e.name.as_str().to_owned(),
                        naf: e.naf.as_str().to_owned(),
                        commune: e.commune.as_str().to_owned(),
                        municipality: e.commune.municipality().to_owned(),
                        departement: commune.map(|c| c.departement.to_owned()),
                        region: commune.map(|c| c.region.to_owned()),
                        address: e.address.as_ref().map(|a| a.as_str().to_owned()),
                        registered_at: recorded.recorded_at,
                        registered_by_structure: recorded.tenant,
                        simultaneous_immersions: None,
                        visits: 0,
                        last_visit: None,
                        name_key: search_key(e.name.as_str()),
                    });
                }
                EmployerEvent::EmployerVisitLogged(e) => {
                    let Some(employer_id) = id else { continue };
                    visits.push(VisitRow::of(&e, employer_id));
                    visited.add(employer_id, e.visited_on);
                }
                EmployerEvent::HostingCapacitySet(e) => {
                    if let Some(employer) = employers.get_mut(id) {
                        employer.simultaneous_immersions =
                            Some(i32::from(e.simultaneous_immersions));
                    }
                }
                EmployerEvent::ContactAdded(e) => {
                    let Some(employer_id) = id else { continue };
                    let row = ContactRow {
                        contact_id: e.contact_id.0,
                        employer_id,
                        structure: recorded.tenant,
                        email: e
                            .email
                            .as_ref()
                            .and_then(|m| m.known())
                            .map(|m| m.as_str().to_owned()),
                        removed: false,
                    };
                    match contacts.get_mut(Some(e.contact_id.0)) {
                        Some(removed) => *removed = row,
                        None => contacts.insert(row),
                    }
                }
                EmployerEvent::ContactRemoved(e) => {
                    if let Some(contact) = contacts.get_mut(Some(e.contact_id.0)) {
                        contact.email = None;
                        contact.removed = true;
                    }
                }
                EmployerEvent::EmployerCorrected(e) => {
                    let Some(employer) = employers.get_mut(id) else {
                        continue;
                    };
                    let c = &e.changes;
                    if let Some(name) = &c.name {
                        employer.name = name.as_str().to_owned();
                        employer.name_key = search_key(name.as_str());
                    }
                    if let Some(naf) = &c.naf {
                        employer.naf = naf.as_str().to_owned();
                    }
                    if let Some(code) = &c.commune {
                        let commune = code.commune();
                        employer.commune = code.as_str().to_owned();
                        employer.municipality = code.municipality().to_owned();
                        employer.departement = commune.map(|c| c.departement.to_owned());
                        employer.region = commune.map(|c| c.region.to_owned());
                    }
                    if let Some(address) = &c.address {
                        employer.address = Some(address.as_str().to_owned());
                    }
                }
                EmployerEvent::EmployerVisitCorrected(e) => {
                    let Some(employer_id) = id else { continue };
                    corrected_visits.push((employer_id, e));
                }
            }
        }
        employers.save(conn).await?;
        visits.save(conn).await?;
        visited.save(conn).await?;
        // After the batch's visits are written: a visit logged and corrected
        // in one batch is there to correct.
        for (employer_id, e) in corrected_visits {
            let c = &e.changes;
            sqlx::query(
                "update visits set visited_on = coalesce($2, visited_on),
                     purpose = coalesce($3, purpose),
                     observations = coalesce($4, observations),
                     next_step = coalesce($5, next_step)
                 where visit_id = $1",
            )
            .bind(e.visit_id.0)
            .bind(c.visited_on)
            .bind(c.purpose.as_ref().map(tag))
            .bind(c.observations.as_ref().map(|o| o.as_str()))
            .bind(c.next_step.as_ref().map(|n| n.as_str()))
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "update employers set last_visit =
                     (select max(visited_on) from visits where employer_id = $1)
                 where employer_id = $1",
            )
            .bind(employer_id)
            .execute(&mut *conn)
            .await?;
        }
        contacts.save(conn).await?;
        Ok(())
    }

    /// Visits only add rows and counters, which needs no read first: a
    /// command that logs visits writes them in its append's statement, as
    /// `apply` would (the same insert, the same counters), and gets the
    /// employer's row back for its answer. Other events go through `apply`.
    fn inline_writes(&self, events: &[RecordedEvent]) -> Option<Vec<InlineWrite>> {
        let mut visits = Vec::new();
        let mut visited = Visited::default();
        for event in events {
            if event.event_type != ERASED_EVENT && !super::in_category(event, "employer") {
                continue;
            }
            let Ok(EmployerEvent::EmployerVisitLogged(e)) = event.decode::<EmployerEvent>() else {
                return None;
            };
            let employer_id = super::stream_uuid(event)?;
            visits.push(VisitRow::of(&e, employer_id));
            visited.add(employer_id, e.visited_on);
        }
        // A command writes one stream, so one employer's counters: joined
        // as one record, as the planner counts a set of rows from JSON as a
        // hundred, and joined with a hundred rows a table of a few thousand
        // employers is cheaper to scan whole than to probe by key, so every
        // visit read them all. Any other shape goes through `apply`.
        let mut employers = visited.0.into_iter();
        let (Some((employer_id, (visits_logged, last_visit))), None) =
            (employers.next(), employers.next())
        else {
            return None;
        };
        let counters = serde_json::json!([{
            "employer_id": employer_id,
            "visits": visits_logged,
            "last_visit": last_visit,
        }]);
        Some(vec![
            InlineWrite {
                sql: "insert into {schema}.visits (visit_id, employer_id, visited_on, mediator,
                          structure, purpose, observations, next_step)
                      select visit_id, employer_id, visited_on, mediator, structure, purpose,
                             observations, next_step
                      from json_populate_recordset(null::{schema}.visits, {rows})
                      where {appended}
                      on conflict do nothing",
                rows: serde_json::to_string(&visits).ok()?,
                returning: false,
            },
            InlineWrite {
                sql: "update {schema}.employers e set visits = e.visits + v.visits,
                          last_visit = greatest(e.last_visit, v.last_visit)
                      from json_to_record({rows} -> 0)
                           as v(employer_id uuid, visits int, last_visit date)
                      where e.employer_id = v.employer_id and {appended}
                      returning e.*",
                rows: counters.to_string(),
                returning: true,
            },
        ])
    }
}

/// The visits of a batch, per employer: how many, and the last day.
#[derive(Default)]
struct Visited(std::collections::HashMap<uuid::Uuid, (i32, time::Date)>);

impl Visited {
    fn add(&mut self, employer: uuid::Uuid, day: time::Date) {
        let (count, last) = self.0.entry(employer).or_insert((0, day));
        *count += 1;
        *last = (*last).max(day);
    }

    async fn save(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.0.is_empty() {
            return Ok(());
        }
        let (mut employers, mut counts, mut lasts) = (Vec::new(), Vec::new(), Vec::new());
        for (employer, (count, last)) in self.0 {
            employers.push(employer);
            counts.push(count);
            lasts.push(last);
        }
        sqlx::query(
            "update employers e set visits = e.visits + v.visits,
                 last_visit = greatest(e.last_visit, v.last_visit)
             from unnest($1::uuid[], $2::int[], $3::date[]) as v(employer_id, visits, last_visit)
             where e.employer_id = v.employer_id",
        )
        .bind(&employers)
        .bind(&counts)
        .bind(&lasts)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// A contact at an establishment, and the structure that vouches for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ContactRow {
    pub contact_id: uuid::Uuid,
    pub employer_id: uuid::Uuid,
    /// The structure that added the contact: its magic links and sessions
    /// reach that structure's immersions only.
    pub structure: uuid::Uuid,
    pub email: Option<String>,
    /// Removed: its address is dropped and it gets no link.
    pub removed: bool,
}
keyed!(ContactRow, "contacts", contact_id);

const CONTACT_COLUMNS: &str = "contact_id, employer_id, structure, email, removed";

/// The employer registered with this SIRET, if any.
pub async fn by_siret(
    db: impl PgExecutor<'_>,
    siret: &Siret,
) -> Result<Option<EmployerId>, sqlx::Error> {
    let id: Option<uuid::Uuid> =
        sqlx::query_scalar("select employer_id from employers.employers where siret = $1")
            .bind(siret.as_str())
            .fetch_optional(db)
            .await?;
    Ok(id.map(EmployerId))
}

/// Whether the employer is registered, and which of `among` are visits
/// logged there (`None` when it is not registered): one statement, and
/// only the visits asked about, however many the employer has.
///
/// Each visit asked about is looked up by its key, then its employer
/// compared: a prepared statement's generic plan of a join or of `visit_id
/// = any($2)` on the employer's condition reads every visit of the
/// employer through its index, counting an employer's visits as the
/// average employer's.
pub async fn visits_among(
    db: impl PgExecutor<'_>,
    employer: EmployerId,
    among: &[VisitId],
) -> Result<Option<Vec<VisitId>>, sqlx::Error> {
    let among: Vec<uuid::Uuid> = among.iter().map(|v| v.0).collect();
    let (exists, ids): (bool, Vec<uuid::Uuid>) = sqlx::query_as(
        "select exists (select 1 from employers.employers where employer_id = $1),
                array(select distinct k from unnest($2::uuid[]) k
                      where (select v.employer_id from employers.visits v
                             where v.visit_id = k) = $1)",
    )
    .bind(employer.0)
    .bind(&among)
    .fetch_one(db)
    .await?;
    Ok(exists.then(|| ids.into_iter().map(VisitId).collect()))
}

/// An employer as the view keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct EmployerRow {
    pub employer_id: uuid::Uuid,
    pub siret: String,
    pub name: String,
    pub naf: String,
    pub commune: String,
    /// The commune it counts under ([`CommuneCode::municipality`]): the
    /// city of an arrondissement, else `commune`.
    ///
    /// [`CommuneCode::municipality`]: passerelle_domain::values::CommuneCode::municipality
    pub municipality: String,
    pub departement: Option<String>,
    pub region: Option<String>,
    pub address: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: time::OffsetDateTime,
    pub registered_by_structure: uuid::Uuid,
    pub simultaneous_immersions: Option<i32>,
    pub visits: i32,
    pub last_visit: Option<time::Date>,
    /// The name folded for searching ([`search_key`]).
    pub name_key: String,
}

keyed!(EmployerRow, "employers", employer_id);

const EMPLOYER_COLUMNS: &str = "employer_id, siret, name, naf, commune, municipality, departement,
    region, address, registered_at, registered_by_structure, simultaneous_immersions, visits,
    last_visit, name_key";

pub async fn get(
    db: impl PgExecutor<'_>,
    employer: EmployerId,
) -> Result<Option<EmployerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {EMPLOYER_COLUMNS} from employers.employers where employer_id = $1"
    )))
    .bind(employer.0)
    .fetch_optional(db)
    .await
}

/// The employer's row among what a command's writes returned
/// (`Outcome::written`), when the command wrote it in its append's
/// statement.
pub fn written(
    written: &[(&'static str, serde_json::Value)],
    employer: EmployerId,
) -> Option<EmployerRow> {
    written
        .iter()
        .filter(|(projection, _)| *projection == "employers")
        .filter_map(|(_, rows)| rows.as_array())
        .flatten()
        .filter_map(|row| serde_json::from_value::<EmployerRow>(row.clone()).ok())
        .find(|row| row.employer_id == employer.0)
}

/// The names of several employers, for a page of rows that name their
/// host: one query for the page.
pub async fn names_of(
    db: impl PgExecutor<'_>,
    employers: &[uuid::Uuid],
) -> Result<Vec<(uuid::Uuid, String)>, sqlx::Error> {
    sqlx::query_as("select employer_id, name from employers.employers where employer_id = any($1)")
        .bind(employers)
        .fetch_all(db)
        .await
}

/// What a search of employers keeps: every criterion given must hold.
/// Values are parsed and bounded by the caller.
#[derive(Debug, Default, Clone)]
pub struct EmployerSearch {
    /// Parts the name holds, each folded ([`search_key`]).
    pub name_keys: Vec<String>,
    /// The first digits of the SIRET (a SIREN gives every establishment of
    /// the company).
    pub siret_prefix: Option<String>,
    /// A commune's INSEE code: establishments there, and for a city with
    /// arrondissements, in any of them.
    pub commune: Option<String>,
    pub departement: Option<String>,
    /// A NAF division.
    pub naf: Option<String>,
    /// Establishments with an open need for any of these ROME codes.
    pub rome_codes: Vec<String>,
    /// Establishments this structure visited at least once.
    pub visited_by: Option<uuid::Uuid>,
}

/// Employers by name, `limit` after the (name, id) key given: keyset pages
/// that stay stable while employers are added.
pub async fn page(
    db: impl PgExecutor<'_>,
    after: Option<(String, uuid::Uuid)>,
    search: &EmployerSearch,
    limit: i64,
) -> Result<Vec<EmployerRow>, sqlx::Error> {
    let (after_name, after_id) = after.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {EMPLOYER_COLUMNS} from employers.employers e
         where ($1::text is null or (name, employer_id) > ($1, $2))
           and not exists (select 1 from unnest($3::text[]) k where strpos(name_key, k) = 0)
           and ($4::text is null or starts_with(siret, $4))
           and ($5::text is null or commune = $5 or municipality = $5)
           and ($6::text is null or departement = $6)
           and ($7::text is null or naf = $7)
           and (cardinality($8::text[]) = 0 or exists (
                 select 1 from needs.needs n
                 where n.employer_id = e.employer_id and n.status = 'open'
                   and n.rome_codes && $8))
           and ($9::uuid is null or exists (
                 select 1 from employers.visits v
                 where v.structure = $9 and v.employer_id = e.employer_id))
         order by name, employer_id limit $10"
    )))
    .bind(after_name)
    .bind(after_id)
    .bind(&search.name_keys)
    .bind(search.siret_prefix.as_deref())
    .bind(search.commune.as_deref())
    .bind(search.departement.as_deref())
    .bind(search.naf.as_deref())
    .bind(&search.rome_codes)
    .bind(search.visited_by)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// One visit, with who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct VisitRow {
    pub visit_id: uuid::Uuid,
    pub employer_id: uuid::Uuid,
    pub visited_on: time::Date,
    pub mediator: uuid::Uuid,
    pub structure: uuid::Uuid,
    pub purpose: String,
    pub observations: String,
    pub next_step: Option<String>,
}

impl VisitRow {
    /// The row a logged visit makes, whichever way the view is written.
    fn of(e: &passerelle_domain::employer::EmployerVisitLogged, employer_id: uuid::Uuid) -> Self {
        Self {
            visit_id: e.visit_id.0,
            employer_id,
            visited_on: e.visited_on,
            mediator: e.mediator.0,
            structure: e.structure.0,
            purpose: tag(&e.purpose),
            observations: e.observations.as_str().to_owned(),
            next_step: e.next_step.as_ref().map(|t| t.as_str().to_owned()),
        }
    }
}

/// The visits of several employers, newest first: one query for a page.
/// One visit, whichever employer it was at.
pub async fn visit(
    db: impl PgExecutor<'_>,
    visit: VisitId,
) -> Result<Option<VisitRow>, sqlx::Error> {
    sqlx::query_as(
        "select visit_id, employer_id, visited_on, mediator, structure, purpose, observations,
                next_step
         from employers.visits where visit_id = $1",
    )
    .bind(visit.0)
    .fetch_optional(db)
    .await
}

/// A page of the visits of several employers, each its own page: newest
/// first, then by id, after the key `(visited_on, visit_id)` when given,
/// `limit` rows at most per employer. One query for a page of employers.
pub async fn visit_pages(
    db: impl PgExecutor<'_>,
    employers: &[uuid::Uuid],
    after: Option<(time::Date, uuid::Uuid)>,
    limit: i64,
) -> Result<Vec<VisitRow>, sqlx::Error> {
    sqlx::query_as(
        "select v.visit_id, v.employer_id, v.visited_on, v.mediator, v.structure, v.purpose,
                v.observations, v.next_step
         from unnest($1::uuid[]) as e(id)
         cross join lateral (
             select * from employers.visits w
             where w.employer_id = e.id
               and ($2::date is null
                    or w.visited_on < $2 or (w.visited_on = $2 and w.visit_id > $3))
             order by w.visited_on desc, w.visit_id limit $4
         ) v
         order by v.employer_id, v.visited_on desc, v.visit_id",
    )
    .bind(employers)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The contacts with this email: their establishment, the structure that
/// added the contact (the one its link and session are scoped to), and the
/// contact.
pub async fn by_contact_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Vec<(EmployerId, uuid::Uuid, uuid::Uuid)>, sqlx::Error> {
    let rows: Vec<(uuid::Uuid, uuid::Uuid, uuid::Uuid)> = sqlx::query_as(
        "select employer_id, structure, contact_id from employers.contacts
         where email = $1 and not removed order by employer_id, contact_id",
    )
    .bind(email)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(e, s, c)| (EmployerId(e), s, c))
        .collect())
}

/// One contact, removed or not (until erased).
pub async fn contact(
    db: impl PgExecutor<'_>,
    contact: uuid::Uuid,
) -> Result<Option<ContactRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {CONTACT_COLUMNS} from employers.contacts where contact_id = $1"
    )))
    .bind(contact)
    .fetch_optional(db)
    .await
}

/// The contacts of several establishments, one query for a page: those
/// kept, or those taken off the list (`removed`), whose row stays until
/// they are erased, so that their data can be read back and erased at
/// their request.
pub async fn contacts_of_employers(
    db: impl PgExecutor<'_>,
    employers: &[uuid::Uuid],
    removed: bool,
) -> Result<Vec<ContactRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {CONTACT_COLUMNS} from employers.contacts
         where employer_id = any($1) and removed = $2
         order by employer_id, structure, contact_id"
    )))
    .bind(employers)
    .bind(removed)
    .fetch_all(db)
    .await
}

/// A contact's address, while kept (a removed contact has none).
pub async fn contact_email(
    db: impl PgExecutor<'_>,
    contact: uuid::Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select email from employers.contacts where contact_id = $1")
        .bind(contact)
        .fetch_optional(db)
        .await
        .map(Option::flatten)
}

/// The addresses of an establishment's contacts; with a structure, only of
/// the contacts it vouches for, as a mail carrying a link scoped to that
/// structure must go to them alone.
pub async fn contact_emails(
    db: impl PgExecutor<'_>,
    employer: EmployerId,
    vouched_by: Option<uuid::Uuid>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select email from employers.contacts where employer_id = $1 and email is not null
           and ($2::uuid is null or structure = $2)
         order by email",
    )
    .bind(employer.0)
    .bind(vouched_by)
    .fetch_all(db)
    .await
}

/// The mediator of a structure who last visited the establishment.
pub async fn last_visitor(
    db: impl PgExecutor<'_>,
    employer: EmployerId,
    structure: uuid::Uuid,
) -> Result<Option<uuid::Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select mediator from employers.visits where employer_id = $1 and structure = $2
         order by visited_on desc, visit_id limit 1",
    )
    .bind(employer.0)
    .bind(structure)
    .fetch_optional(db)
    .await
}
