//! `people`: the people each structure accompanies, their project versions
//! (with what caused each change) and the timeline of their path: every
//! event of their own stream, of their immersions and of their testimonies,
//! in commit order, with who did it.
//!
//! Names are copied in clear for lists, with their folded form for the
//! search: they are read while the person's key exists, and purged when
//! `PersonalDataErased` arrives.

use std::collections::HashMap;

use async_trait::async_trait;
use passerelle_domain::immersion::{ImmersionProposed, Stage};
use passerelle_domain::person::{
    CauseKind, ConsentPurpose, ExitReasonKind, PersonEnrolled, PersonErased, PersonEvent, Project,
    ReadjustmentCause,
};
use passerelle_domain::testimony::TestimonyRecorded;
use passerelle_domain::values::{AgeBand, ContractType, PersonId, StructureId, search_key};
use passerelle_store::projection::{Mode, Projection, ProjectionError};
use passerelle_store::{ERASED_EVENT, InlineWrite, RecordedEvent};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{UnknownTag, stream_uuid, tag, untag, untag_all};
use crate::rows::{Inserts, Rows, keyed};

/// Where a person stands, as the list filters on it: the domain's, whose
/// French labels the pages read.
pub use passerelle_domain::person::PersonStage;

#[derive(Debug, Clone, Copy)]
pub struct People;

#[async_trait]
impl Projection for People {
    fn name(&self) -> &'static str {
        "people"
    }

    fn mode(&self) -> Mode {
        Mode::Inline
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        ["person", "immersion", "testimony"]
            .iter()
            .any(|c| super::in_category(event, c))
            || event.event_type == ERASED_EVENT
    }

    fn schema_sql(&self) -> &'static str {
        "create table people (
             person_id uuid primary key,
             structure uuid not null,
             referent uuid not null,
             first_name text,
             last_name text,
             -- Personal: the names folded (`search_key`) for the search,
             -- purged on erasure.
             search_name text,
             age_band text not null,
             commune text,
             enrolled_on date not null,
             exited_on date,
             exit_reason text,
             project_version int not null default 0,
             target_rome_codes text[] not null default '{}',
             consents text[] not null default '{}',
             -- Personal: kept to send magic links, purged on erasure.
             email text,
             erased boolean not null default false
         );
         create index people_email on people (email);
         create index people_structure on people (structure, last_name);
         create table project_versions (
             person_id uuid not null,
             version int not null,
             target_rome_codes text[] not null,
             contract_wishes text[] not null,
             mobility_radius_km int not null,
             cause_kind text,
             cause_id uuid,
             what_changed text,
             changed_on date not null,
             primary key (person_id, version)
         );
         create table timeline (
             person_id uuid not null,
             transaction_id bigint not null,
             global_position bigint not null,
             stream_id text not null,
             event_type text not null,
             actor text not null,
             role text not null,
             recorded_at timestamptz not null,
             primary key (person_id, transaction_id, global_position)
         );
         -- Immersion and testimony events do not all name their person.
         create table owners (
             stream_id text primary key,
             person_id uuid not null
         );"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let erased = super::erased_subjects(events)?;
        let mut people = Rows::<PersonRecord>::load(
            conn,
            erased.iter().copied().chain(
                events
                    .iter()
                    .filter(|e| super::in_category(e, "person"))
                    .filter_map(stream_uuid),
            ),
        )
        .await?;
        for subject in erased {
            if let Some(person) = people.get_mut(Some(subject)) {
                person.forget();
            }
        }
        // Who each immersion or testimony stream belongs to: the owners
        // recorded in earlier batches, read once for the batch, then the
        // ones this batch records.
        let streams: Vec<&str> = events
            .iter()
            .filter(|e| super::in_category(e, "immersion") || super::in_category(e, "testimony"))
            .map(|e| e.stream_id.as_str())
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .collect();
        let mut owners: HashMap<String, Uuid> = if streams.is_empty() {
            HashMap::new()
        } else {
            sqlx::query_as::<_, (String, Uuid)>(
                // A join, not `= any($1)`: see `Rows::load`.
                "select o.stream_id, o.person_id from unnest($1::text[]) s join owners o on o.stream_id = s",
            )
            .bind(&streams)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect()
        };
        let mut new_owners = Inserts::new("owners");
        let mut versions = Inserts::new("project_versions");
        // The timeline rows, written in one statement for the batch.
        let mut timeline = Timeline::default();
        for recorded in events {
            let category = recorded.stream_id.split_once('-').map(|(c, _)| c);
            // Only the first event of an immersion or a testimony names its
            // person: the others are not decoded. That one is read as its
            // own struct; the enum's `type` tag is ignored.
            let first = match category {
                Some("immersion") if recorded.event_type == ImmersionProposed::TYPE => {
                    let e: ImmersionProposed = decode(recorded)?;
                    Some(e.person_id.0)
                }
                Some("testimony") if recorded.event_type == TestimonyRecorded::TYPE => {
                    let e: TestimonyRecorded = decode(recorded)?;
                    Some(e.author.0)
                }
                _ => None,
            };
            if let Some(person) = first {
                new_owners.push(Owner {
                    stream_id: recorded.stream_id.clone(),
                    person_id: person,
                });
                owners.insert(recorded.stream_id.clone(), person);
            }
            let person = match category {
                Some("person") => {
                    let person = stream_uuid(recorded).ok_or("person stream without an id")?;
                    apply_person(&mut people, &mut versions, person, decode(recorded)?);
                    Some(person)
                }
                Some("immersion" | "testimony") => owners.get(&recorded.stream_id).copied(),
                _ => None,
            };
            if let Some(person) = person {
                timeline.push(person, recorded);
            }
        }
        people.save(conn).await?;
        versions.save(conn).await?;
        // What changed in a project was written in clear, in the person's
        // words: it goes with them.
        super::purge_erased(
            conn,
            events,
            "update project_versions set what_changed = null where person_id = $1",
        )
        .await?;
        new_owners.save(conn).await?;
        timeline.write(conn).await?;
        Ok(())
    }

    /// A person enrolled adds their row and their timeline's first line,
    /// which needs no read first: the command writes them in its append's
    /// statement, as `apply` would (the same row, the same line, its
    /// position taken from the event as that statement inserts it), and
    /// gets the person's row back for its answer. Other events go through
    /// `apply`.
    fn inline_writes(&self, events: &[RecordedEvent]) -> Option<Vec<InlineWrite>> {
        let [recorded] = events else {
            return None;
        };
        if !super::in_category(recorded, "person") {
            return None;
        }
        let PersonEvent::PersonEnrolled(e) = recorded.decode::<PersonEvent>().ok()? else {
            return None;
        };
        let person = stream_uuid(recorded)?;
        let row = serde_json::to_string(&[enrolled(person, &e)]).ok()?;
        let line = serde_json::json!([{
            "person_id": person,
            "version": recorded.version,
            "stream_id": recorded.stream_id,
            "event_type": recorded.event_type,
            "actor": recorded.metadata.actor,
            "role": recorded.metadata.role,
        }]);
        Some(vec![
            // `Rows::save`'s statement for one row.
            InlineWrite {
                sql: "insert into {schema}.people (person_id, structure, referent, first_name,
                          last_name, search_name, age_band, commune, enrolled_on, exited_on,
                          exit_reason, project_version, target_rome_codes, consents, email, erased)
                      select person_id, structure, referent, first_name, last_name, search_name,
                             age_band, commune, enrolled_on, exited_on, exit_reason,
                             project_version, target_rome_codes, consents, email, erased
                      from json_populate_recordset(null::{schema}.people, {rows})
                      where {appended}
                      on conflict (person_id) do update set structure = excluded.structure,
                          referent = excluded.referent, first_name = excluded.first_name,
                          last_name = excluded.last_name, search_name = excluded.search_name,
                          age_band = excluded.age_band, commune = excluded.commune,
                          enrolled_on = excluded.enrolled_on, exited_on = excluded.exited_on,
                          exit_reason = excluded.exit_reason,
                          project_version = excluded.project_version,
                          target_rome_codes = excluded.target_rome_codes,
                          consents = excluded.consents, email = excluded.email,
                          erased = excluded.erased
                      returning *",
                rows: row,
                returning: true,
            },
            // `Timeline::write`'s, the position from the event inserted.
            InlineWrite {
                sql: "insert into {schema}.timeline (person_id, transaction_id, global_position,
                          stream_id, event_type, actor, role, recorded_at)
                      select v.person_id, ins.transaction_id, ins.global_position, v.stream_id,
                             v.event_type, v.actor, v.role, ins.recorded_at
                      from json_to_recordset({rows}) as v(person_id uuid, version bigint,
                               stream_id text, event_type text, actor text, role text)
                      join ins on ins.version = v.version",
                rows: line.to_string(),
                returning: false,
            },
        ])
    }
}

/// The person's row as the command's own statement left it, when it wrote
/// the view there ([`Projection::inline_writes`]).
pub fn written(
    written: &[(&'static str, serde_json::Value)],
    person: PersonId,
) -> Option<PersonRow> {
    written
        .iter()
        .filter(|(projection, _)| *projection == "people")
        .filter_map(|(_, rows)| rows.as_array())
        .flatten()
        .filter_map(|row| serde_json::from_value::<PersonRow>(row.clone()).ok())
        .find(|row| row.person_id == person.0)
}

/// A row of `people`, every column.
#[derive(Serialize, sqlx::FromRow)]
struct PersonRecord {
    person_id: Uuid,
    structure: Uuid,
    referent: Uuid,
    first_name: Option<String>,
    last_name: Option<String>,
    search_name: Option<String>,
    age_band: String,
    commune: Option<String>,
    enrolled_on: Date,
    exited_on: Option<Date>,
    exit_reason: Option<String>,
    project_version: i32,
    target_rome_codes: Vec<String>,
    consents: Vec<String>,
    email: Option<String>,
    erased: bool,
}
keyed!(PersonRecord, "people", person_id);

impl PersonRecord {
    /// Blanks every personal value of the row.
    fn forget(&mut self) {
        self.first_name = None;
        self.last_name = None;
        self.search_name = None;
        self.email = None;
        self.erased = true;
    }
}

#[derive(Serialize)]
struct VersionRecord {
    person_id: Uuid,
    version: i32,
    target_rome_codes: Vec<String>,
    contract_wishes: Vec<String>,
    mobility_radius_km: i32,
    cause_kind: Option<String>,
    cause_id: Option<Uuid>,
    what_changed: Option<String>,
    changed_on: Date,
}

#[derive(Serialize)]
struct Owner {
    stream_id: String,
    person_id: Uuid,
}

/// Timeline rows gathered over a batch.
#[derive(Default)]
struct Timeline<'a> {
    people: Vec<Uuid>,
    transactions: Vec<i64>,
    positions: Vec<i64>,
    streams: Vec<&'a str>,
    types: Vec<&'a str>,
    actors: Vec<&'a str>,
    roles: Vec<&'a str>,
    recorded: Vec<time::OffsetDateTime>,
}

impl<'a> Timeline<'a> {
    fn push(&mut self, person: Uuid, e: &'a RecordedEvent) {
        self.people.push(person);
        self.transactions.push(e.position.transaction_id);
        self.positions.push(e.position.global_position);
        self.streams.push(&e.stream_id);
        self.types.push(&e.event_type);
        self.actors.push(&e.metadata.actor);
        self.roles.push(&e.metadata.role);
        self.recorded.push(e.recorded_at);
    }

    async fn write(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.people.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "insert into timeline (person_id, transaction_id, global_position, stream_id,
                 event_type, actor, role, recorded_at)
             select * from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::timestamptz[])",
        )
        .bind(&self.people)
        .bind(&self.transactions)
        .bind(&self.positions)
        .bind(&self.streams)
        .bind(&self.types)
        .bind(&self.actors)
        .bind(&self.roles)
        .bind(&self.recorded)
        .execute(conn)
        .await?;
        Ok(())
    }
}

fn decode<T: serde::de::DeserializeOwned>(recorded: &RecordedEvent) -> Result<T, ProjectionError> {
    recorded
        .decode()
        .map_err(|e| format!("{} {}: {e}", recorded.event_type, recorded.event_id).into())
}

/// The row a person's enrolment makes.
fn enrolled(person: Uuid, e: &PersonEnrolled) -> PersonRecord {
    let identity = e.identity.known();
    PersonRecord {
        person_id: person,
        structure: e.structure.0,
        referent: e.referent.0,
        first_name: identity.map(|i| i.first_name.as_str().to_owned()),
        last_name: identity.map(|i| i.last_name.as_str().to_owned()),
        search_name: identity.map(|i| {
            search_key(&format!(
                "{} {}",
                i.first_name.as_str(),
                i.last_name.as_str()
            ))
        }),
        age_band: tag(&e.age_band),
        commune: e.commune.as_ref().map(|c| c.as_str().to_owned()),
        enrolled_on: e.enrolled_on,
        exited_on: None,
        exit_reason: None,
        project_version: 0,
        target_rome_codes: Vec::new(),
        consents: Vec::new(),
        email: identity
            .and_then(|i| i.email.as_ref())
            .map(|m| m.as_str().to_owned()),
        erased: identity.is_none(),
    }
}

fn apply_person(
    people: &mut Rows<PersonRecord>,
    versions: &mut Inserts<VersionRecord>,
    person: Uuid,
    event: PersonEvent,
) {
    if let PersonEvent::PersonEnrolled(e) = &event {
        people.insert(enrolled(person, e));
        return;
    }
    let Some(row) = people.get_mut(Some(person)) else {
        return;
    };
    match event {
        PersonEvent::ReferentChanged(e) => row.referent = e.referent.0,
        PersonEvent::ProjectStated(e) => {
            versions.push(project_version(
                row,
                e.version,
                &e.project,
                None,
                None,
                e.stated_on,
            ));
        }
        PersonEvent::ProjectReadjusted(e) => {
            versions.push(project_version(
                row,
                e.version,
                &e.project,
                Some(&e.cause),
                e.what_changed.known().map(|t| t.as_str()),
                e.readjusted_on,
            ));
        }
        PersonEvent::ConsentGiven(e) => {
            let purpose = tag(&e.purpose);
            row.consents.retain(|c| *c != purpose);
            row.consents.push(purpose);
        }
        PersonEvent::ConsentWithdrawn(e) => {
            let purpose = tag(&e.purpose);
            row.consents.retain(|c| *c != purpose);
        }
        PersonEvent::PersonExited(e) => {
            row.exited_on = Some(e.exited_on);
            row.exit_reason = Some(tag(&e.reason));
        }
        // Blanked at once; the key's destruction right after blanks the
        // enrolment itself for any rebuild.
        PersonEvent::PersonErased(_) => row.forget(),
        // The names shown and searched follow the correction; a sealed
        // value already erased changes nothing.
        PersonEvent::IdentityCorrected(e) => {
            if let Some(age_band) = &e.age_band {
                row.age_band = tag(age_band);
            }
            let Some(changes) = e.changes.known() else {
                return;
            };
            if row.erased {
                return;
            }
            if let Some(first) = &changes.first_name {
                row.first_name = Some(first.as_str().to_owned());
            }
            if let Some(last) = &changes.last_name {
                row.last_name = Some(last.as_str().to_owned());
            }
            if let (Some(first), Some(last)) = (&row.first_name, &row.last_name) {
                row.search_name = Some(search_key(&format!("{first} {last}")));
            }
            if let Some(email) = &changes.email {
                row.email = Some(email.as_str().to_owned());
            }
        }
        PersonEvent::PersonEnrolled(_)
        | PersonEvent::SituationStated(_)
        | PersonEvent::JobInquiryHeld(_)
        | PersonEvent::PeerMeetingHeld(_)
        | PersonEvent::MentorshipStarted(_)
        | PersonEvent::MentorshipEnded(_)
        | PersonEvent::DisabilityRecognitionRecorded(_) => {}
    }
}

/// A new version of the person's project: its row, and the person's
/// current project.
fn project_version(
    person: &mut PersonRecord,
    version: u32,
    project: &Project,
    cause: Option<&ReadjustmentCause>,
    what_changed: Option<&str>,
    on: Date,
) -> VersionRecord {
    let codes: Vec<String> = project
        .target_rome_codes
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let cause_id = cause.map(|c| match c {
        ReadjustmentCause::ImmersionFeedback { immersion_id } => immersion_id.0,
        ReadjustmentCause::JobInquiry { inquiry_id } => inquiry_id.0,
        ReadjustmentCause::PeerMeeting { meeting_id } => meeting_id.0,
        ReadjustmentCause::Mentorship { mentorship_id } => mentorship_id.0,
    });
    person.project_version = version as i32;
    person.target_rome_codes.clone_from(&codes);
    VersionRecord {
        person_id: person.person_id,
        version: version as i32,
        target_rome_codes: codes,
        contract_wishes: project.contract_wishes.iter().map(tag).collect(),
        mobility_radius_km: i32::from(project.mobility_radius_km),
        cause_kind: cause.map(tag),
        cause_id,
        what_changed: what_changed.map(str::to_owned),
        changed_on: on,
    }
}

/// Whether the person is enrolled in `structure`, has not exited and was
/// not erased.
pub async fn accompanied_by(
    db: impl PgExecutor<'_>,
    person: PersonId,
    structure: StructureId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from people.people
                        where person_id = $1 and structure = $2 and exited_on is null
                          and not erased)",
    )
    .bind(person.0)
    .bind(structure.0)
    .fetch_one(db)
    .await
}

/// Whether the person is enrolled in `structure` and was not erased,
/// whether or not her accompaniment ended: what her own session needs.
pub async fn enrolled_in(
    db: impl PgExecutor<'_>,
    person: PersonId,
    structure: StructureId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from people.people
                        where person_id = $1 and structure = $2 and not erased)",
    )
    .bind(person.0)
    .bind(structure.0)
    .fetch_one(db)
    .await
}

/// Whether the person's consent for `purpose` stands.
pub async fn has_consented(
    db: impl PgExecutor<'_>,
    person: PersonId,
    purpose: ConsentPurpose,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from people.people where person_id = $1 and $2 = any(consents))",
    )
    .bind(person.0)
    .bind(tag(&purpose))
    .fetch_one(db)
    .await
}

/// The person a testimony's stream (`testimony-<id>`) belongs to: its
/// author, as its first event named them.
pub async fn testimony_author(
    db: impl PgExecutor<'_>,
    testimony: uuid::Uuid,
) -> Result<Option<PersonId>, sqlx::Error> {
    let person: Option<Uuid> =
        sqlx::query_scalar("select person_id from people.owners where stream_id = $1")
            .bind(format!("testimony-{testimony}"))
            .fetch_optional(db)
            .await?;
    Ok(person.map(PersonId))
}

/// A person's erasure, where the timeline keeps it: the person and the
/// erasure's place in the log.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ErasureEntry {
    pub person_id: Uuid,
    pub transaction_id: i64,
    pub global_position: i64,
}

/// The erasures of `structure`'s people, newest first, a page of `limit`
/// after the place in the log `after` names.
pub async fn erasures(
    db: impl PgExecutor<'_>,
    structure: StructureId,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<ErasureEntry>, sqlx::Error> {
    sqlx::query_as(
        "select t.person_id, t.transaction_id, t.global_position
         from people.people p join people.timeline t on t.person_id = p.person_id
         where p.structure = $1 and p.erased and t.event_type = $2
           and ($3::bigint is null or (t.transaction_id, t.global_position) < ($3, $4))
         order by t.transaction_id desc, t.global_position desc
         limit $5",
    )
    .bind(structure.0)
    .bind(PersonErased::TYPE)
    .bind(after.map(|(t, _)| t))
    .bind(after.map(|(_, g)| g))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// One line of a person's timeline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TimelineEntry {
    pub stream_id: String,
    pub event_type: String,
    pub actor: String,
    pub role: String,
    pub recorded_at: OffsetDateTime,
}

/// Every event of the person's path, in commit order.
pub async fn timeline(
    db: impl PgExecutor<'_>,
    person: PersonId,
    health: bool,
) -> Result<Vec<TimelineEntry>, sqlx::Error> {
    sqlx::query_as(
        "select stream_id, event_type, actor, role, recorded_at from people.timeline
         where person_id = $1 and ($2 or event_type <> $3)
         order by transaction_id, global_position",
    )
    .bind(person.0)
    .bind(health)
    .bind(HEALTH_FACT)
    .fetch_all(db)
    .await
}

/// The type of the one fact of a person's path that is health data, her
/// disability recognition (RQTH): that it was recorded at all is left out
/// of her timeline for whoever may not read it (`health` false).
pub const HEALTH_FACT: &str = "disability_recognition_recorded";

/// The streams of the person's path: their own, their immersions' and
/// their testimonies', as the timeline knows them (by its key, so one
/// index scan).
pub async fn streams_of(
    db: impl PgExecutor<'_>,
    person: PersonId,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select 'person-' || $1::text
         union
         select distinct stream_id from people.timeline where person_id = $1",
    )
    .bind(person.0)
    .fetch_all(db)
    .await
}

/// A page of the person's path, in commit order, after the event at
/// `(transaction_id, global_position)` when given.
pub async fn timeline_page(
    db: impl PgExecutor<'_>,
    person: PersonId,
    after: Option<(i64, i64)>,
    limit: i64,
    health: bool,
) -> Result<Vec<TimelinePosition>, sqlx::Error> {
    sqlx::query_as(
        "select transaction_id, global_position, stream_id, event_type, actor, role, recorded_at
         from people.timeline
         where person_id = $1
           and ($2::bigint is null or (transaction_id, global_position) > ($2, $3))
           and ($5 or event_type <> $6)
         order by transaction_id, global_position limit $4",
    )
    .bind(person.0)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .bind(health)
    .bind(HEALTH_FACT)
    .fetch_all(db)
    .await
}

/// A timeline entry with its place in commit order, the key of its page.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TimelinePosition {
    pub transaction_id: i64,
    pub global_position: i64,
    #[sqlx(flatten)]
    pub entry: TimelineEntry,
}

/// A version of a person's project and what caused it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectVersion {
    pub version: i32,
    pub target_rome_codes: Vec<String>,
    pub contract_wishes: Vec<String>,
    pub mobility_radius_km: i32,
    pub cause_kind: Option<String>,
    pub cause_id: Option<Uuid>,
    pub what_changed: Option<String>,
    pub changed_on: Date,
}

impl ProjectVersion {
    /// What caused it; `None` for the first statement.
    pub fn cause_kind(&self) -> Result<Option<CauseKind>, UnknownTag> {
        self.cause_kind.as_deref().map(untag).transpose()
    }

    /// The contracts wished for, in the order stated.
    pub fn contract_wishes(&self) -> Result<Vec<ContractType>, UnknownTag> {
        self.contract_wishes.iter().map(|c| untag(c)).collect()
    }
}

pub async fn project_versions(
    db: impl PgExecutor<'_>,
    person: PersonId,
) -> Result<Vec<ProjectVersion>, sqlx::Error> {
    sqlx::query_as(
        "select version, target_rome_codes, contract_wishes, mobility_radius_km, cause_kind,
                cause_id, what_changed, changed_on
         from people.project_versions where person_id = $1 order by version",
    )
    .bind(person.0)
    .fetch_all(db)
    .await
}

/// The people `structure` follows now (not exited, not erased) whose
/// folded first and last name is `search_name` ([`search_key`] of "first
/// last"): the candidates of a duplicate, whose birth dates the caller
/// compares from their sealed enrolment, not copied here.
pub async fn followed_with_name(
    db: impl PgExecutor<'_>,
    structure: StructureId,
    search_name: &str,
) -> Result<Vec<PersonId>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select person_id from people.people
         where structure = $1 and search_name = $2 and exited_on is null and not erased
         order by person_id limit 20",
    )
    .bind(structure.0)
    .bind(search_name)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(PersonId).collect())
}

/// Whom each of these immersions is about, with her name ("Awa Diallo"),
/// when `structure` follows or followed her and her name is not erased:
/// what a staff member of the structure reads of them. Read through the
/// immersions' and people's views, which every release keeps in place.
pub async fn named_in_immersions(
    db: impl PgExecutor<'_>,
    structure: StructureId,
    immersions: &[Uuid],
) -> Result<HashMap<Uuid, (Uuid, String)>, sqlx::Error> {
    let rows: Vec<(Uuid, Uuid, String, String)> = sqlx::query_as(
        "select i.immersion_id, p.person_id, p.first_name, p.last_name
         from unnest($2::uuid[]) k(immersion_id)
              join immersions.immersions i using (immersion_id)
              join people.people p on p.person_id = i.person_id
         where p.structure = $1 and p.first_name is not null and p.last_name is not null",
    )
    .bind(structure.0)
    .bind(immersions)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(immersion, person, first, last)| (immersion, (person, format!("{first} {last}"))))
        .collect())
}

/// A person as the view keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Deserialize)]
pub struct PersonRow {
    pub person_id: Uuid,
    pub structure: Uuid,
    pub referent: Uuid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub age_band: String,
    pub enrolled_on: Date,
    pub exited_on: Option<Date>,
    pub project_version: i32,
    pub target_rome_codes: Vec<String>,
    pub consents: Vec<String>,
    pub erased: bool,
}

/// The row's values read back into the domain's enums.
impl PersonRow {
    pub fn age_band(&self) -> Result<AgeBand, UnknownTag> {
        untag(&self.age_band)
    }

    pub fn consents(&self) -> Result<Vec<ConsentPurpose>, UnknownTag> {
        untag_all(&self.consents)
    }
}

const PERSON_COLUMNS: &str = "person_id, structure, referent, first_name, last_name, age_band,
    enrolled_on, exited_on, project_version, target_rome_codes, consents, erased";

pub async fn get(
    db: impl PgExecutor<'_>,
    person: PersonId,
) -> Result<Option<PersonRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {PERSON_COLUMNS} from people.people where person_id = $1"
    )))
    .bind(person.0)
    .fetch_optional(db)
    .await
}

/// The rows of these people, in no order: one query for a page of them.
pub async fn get_many(
    db: impl PgExecutor<'_>,
    people: &[Uuid],
) -> Result<Vec<PersonRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {PERSON_COLUMNS} from people.people where person_id = any($1)"
    )))
    .bind(people)
    .fetch_all(db)
    .await
}

/// Which people of a structure a page lists: every part given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleFilter {
    /// Words each found in the first or last name, folded by
    /// [`search_key`] (any case, with or without accents).
    pub name_words: Vec<String>,
    pub referent: Option<Uuid>,
    /// A ROME code of their current project.
    pub rome_code: Option<String>,
    pub stage: Option<PersonStage>,
}

/// A word as a `like` pattern that finds it anywhere: its own `%`, `_` and
/// `\` are matched as themselves.
fn anywhere(word: &str) -> String {
    let mut pattern = String::with_capacity(word.len() + 2);
    pattern.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The people of one structure by name, `limit` after the (last name,
/// first name, id) key given, narrowed by `filter`.
pub async fn page(
    db: impl PgExecutor<'_>,
    structure: StructureId,
    filter: &PeopleFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PersonRow>, sqlx::Error> {
    let patterns: Vec<String> = filter.name_words.iter().map(|w| anywhere(w)).collect();
    // The stage, computed as `PersonStage` orders it; its names are the
    // enum's tags (checked by a test below).
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {PERSON_COLUMNS} from people.people p
         -- An erased person has nothing left to list: the register of
         -- erasures (`erasures`) says who erased them, when and why.
         where structure = $1 and not erased
           and ($2::uuid is null
                or (coalesce(last_name, ''), coalesce(first_name, ''), person_id)
                   > (select coalesce(q.last_name, ''), coalesce(q.first_name, ''), q.person_id
                      from people.people q
                      where q.person_id = $2 and q.structure = $1 and not q.erased))
           and (cardinality($4::text[]) = 0 or search_name like all ($4))
           and ($5::uuid is null or referent = $5)
           and ($6::text is null or $6 = any (target_rome_codes))
           and ($7::text is null or $7 = case
                 when exited_on is not null and exit_reason = $8 then 'hired'
                 when exited_on is not null then 'exited'
                 when exists (select 1 from immersions.immersions i
                              where i.person_id = p.person_id and i.stage = $9)
                   then 'immersion_in_progress'
                 when project_version = 0 then 'no_project_yet'
                 else 'project_stated' end)
         order by coalesce(last_name, ''), coalesce(first_name, ''), person_id limit $3"
    )))
    .bind(structure.0)
    .bind(after)
    .bind(limit)
    .bind(&patterns)
    .bind(filter.referent)
    .bind(filter.rome_code.as_deref())
    .bind(filter.stage.as_ref().map(tag))
    .bind(tag(&ExitReasonKind::Employment))
    .bind(tag(&Stage::Started))
    .fetch_all(db)
    .await
}

/// Whether the person is listed among her structure's people: neither
/// erased nor another structure's. A list's cursor names a person; once she
/// is erased, her place in the order went with her name.
pub async fn listed(
    db: impl PgExecutor<'_>,
    structure: StructureId,
    person: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from people.people
                        where person_id = $1 and structure = $2 and not erased)",
    )
    .bind(person)
    .bind(structure.0)
    .fetch_one(db)
    .await
}

/// The people whose email this is, with their structure: those accompanied
/// and those whose accompaniment ended, who keep reaching their own data
/// (reading it, withdrawing a consent or a testimony); never the erased.
pub async fn by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Vec<(PersonId, Uuid)>, sqlx::Error> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select person_id, structure from people.people
         where email = $1 and not erased",
    )
    .bind(email)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(p, s)| (PersonId(p), s)).collect())
}

/// Who to write to about a person: their first name, address and
/// structure; none once erased.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Contact {
    pub first_name: Option<String>,
    pub email: Option<String>,
    pub structure: uuid::Uuid,
}

pub async fn contact(
    db: impl PgExecutor<'_>,
    person: PersonId,
) -> Result<Option<Contact>, sqlx::Error> {
    sqlx::query_as(
        "select first_name, email, structure from people.people
         where person_id = $1 and not erased",
    )
    .bind(person.0)
    .fetch_optional(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stages_the_list_computes_are_the_enums_tags() {
        for (stage, name) in [
            (PersonStage::Hired, "hired"),
            (PersonStage::Exited, "exited"),
            (PersonStage::ImmersionInProgress, "immersion_in_progress"),
            (PersonStage::NoProjectYet, "no_project_yet"),
            (PersonStage::ProjectStated, "project_stated"),
        ] {
            assert_eq!(tag(&stage), name);
        }
        assert_eq!(tag(&Stage::Started), "started");
    }

    #[test]
    fn a_searched_word_matches_itself_only() {
        assert_eq!(anywhere("helene"), "%helene%");
        assert_eq!(anywhere("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
