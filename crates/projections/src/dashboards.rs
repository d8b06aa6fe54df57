//! `dashboards`: one row of facts per immersion (who, where, which sector,
//! which public) with the instant it reached each step of the funnel, and
//! every outcome recorded with its instant; visits, and needs with the
//! instant each became an immersion, an offer and a hire; people with their
//! project's readjustments and what caused them. Asynchronous, rebuildable.
//!
//! Each step keeps the first instant it was reached and outcomes are kept
//! as recorded, never overwritten: the figures "as of" a past date are the
//! rows and instants up to the end of that day, exact to the event, without
//! replaying the log.
//!
//! Beside those facts, kept with them in each batch: the delays between
//! steps, indexed by length, from which the median of every immersion's
//! delays is read at its position instead of sorting them; the outcome
//! totals; the counts of `totals` (immersions at each step, delays per
//! step, proposals kept waiting, employers engaged, visits, needs); and
//! each employer's earliest visit, need and start. They answer the figures
//! unfiltered (or filtered on employers alone) without scanning or grouping
//! the activity; the filtered queries read the facts.

use async_trait::async_trait;
use passerelle_domain::Personal;
use passerelle_domain::employer::EmployerEvent;
use passerelle_domain::immersion::{
    ConventionDrafted, ConventionModified, ImmersionEvent, Outcome, Respondent,
};
use passerelle_domain::need::{NeedEvent, NeedSource};
use passerelle_domain::person::{ConsentPurpose, PersonEvent};
use passerelle_store::RecordedEvent;
use passerelle_store::projection::{Projection, ProjectionError};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use std::collections::HashMap;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::rows::{Inserts, Rows, keyed};
use crate::views::{
    decode_one, erased_subjects, in_category, required_signatories, staff_actor, stream_uuid, tag,
};

#[derive(Debug, Clone, Copy)]
pub struct Dashboards;

#[async_trait]
impl Projection for Dashboards {
    fn name(&self) -> &'static str {
        "dashboards"
    }

    fn schema_sql(&self) -> &'static str {
        "-- With the earliest instant each employer was visited, had a need
         -- surfaced and began hosting an immersion: the employers engaged
         -- by any day are counted here, without grouping the activity.
         create table employers (
             employer_id uuid primary key,
             first_visited_at timestamptz,
             first_need_at timestamptz,
             first_hosted_at timestamptz,
             naf text not null,
             departement text,
             region text
         );
         create table people (
             person_id uuid primary key,
             structure uuid not null,
             referent uuid not null,
             enrolled_on date not null,
             departement text,
             region text,
             age_band text not null,
             -- Health data, kept only while consent stands and until erasure.
             disability boolean,
             project_at timestamptz
         );
         create table readjustments (
             person_id uuid not null,
             cause text not null,
             recorded_at timestamptz not null,
             global_position bigint not null,
             primary key (person_id, global_position)
         );
         create table visits (
             visit_id uuid primary key,
             employer_id uuid not null,
             structure uuid not null,
             mediator uuid not null,
             visited_on date not null,
             recorded_at timestamptz not null
         );
         create table needs (
             need_id uuid primary key,
             employer_id uuid not null,
             source text not null,
             structure uuid,
             mediator uuid,
             surfaced_on date not null,
             surfaced_at timestamptz not null,
             rome_codes text[] not null,
             immersion_at timestamptz,
             offer_at timestamptz,
             hired_at timestamptz
         );
         -- Fixed-width columns first: the figures scan this table, and a
         -- row's columns are read in order up to the last one needed.
         create table immersions (
             immersion_id uuid primary key,
             structure uuid not null,
             mediator uuid not null,
             person_id uuid not null,
             employer_id uuid not null,
             proposed_on date not null,
             proposed_at timestamptz not null,
             accepted_at timestamptz,
             signed_at timestamptz,
             validated_at timestamptz,
             started_at timestamptz,
             completed_at timestamptz,
             hired_or_trained_at timestamptz,
             -- The employer's answer to the proposal, either way.
             employer_answered_at timestamptz,
             -- Declined by either party.
             declined_at timestamptz,
             person_accepted_at timestamptz,
             employer_accepted_at timestamptz,
             need_id uuid,
             objective text not null,
             naf text,
             departement text,
             region text,
             age_band text,
             rome_codes text[] not null default '{}',
             required_signatories text[] not null default '{}',
             signatures text[] not null default '{}'
         );
         create index immersions_proposed_on on immersions (proposed_on);
         -- The proposals of the last days, for the employers kept waiting.
         -- On the instant read at UTC, which orders rows as the instant
         -- does: an index on the instant itself would serve the other
         -- queries' `proposed_at <= $1` in a prepared statement's generic
         -- plan, a bitmap over nearly every row, slower than their scan.
         create index immersions_proposed_utc on immersions ((proposed_at at time zone 'UTC'));
         create table outcomes (
             immersion_id uuid not null,
             milestone text not null,
             outcome text not null,
             contract text,
             recorded_at timestamptz not null,
             -- The domain records each milestone once.
             primary key (immersion_id, milestone)
         );
         -- Each delay between two steps, in seconds, once both are reached
         -- (a step keeps its first instant, so a delay never changes): the
         -- funnel's steps from the one before (1 to 6) and the employer's
         -- answer from the proposal (7). Ordered by step and length, the
         -- whole funnel's median is read at its position, with no sort.
         create table delays (
             immersion_id uuid not null,
             step smallint not null,
             seconds float8 not null,
             primary key (immersion_id, step)
         );
         create index delays_by_length on delays (step, seconds);
         -- The outcomes counted by milestone, objective, outcome and
         -- contract ('' when none), kept with each outcome added: the
         -- figures of every immersion, as they stand, without a scan.
         create table outcome_totals (
             milestone text not null,
             objective text not null,
             outcome text not null,
             contract text not null,
             count bigint not null,
             primary key (milestone, objective, outcome, contract)
         );
         -- How many rows meet each condition the code counts, kept
         -- with each batch's changes: the figures of everything, as it
         -- stands, without a scan. A count no row met yet has no row.
         create table totals (
             name text primary key,
             n bigint not null
         );"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let facts = decode(events)?;
        let erased = erased_subjects(events)?;
        let mut rows = Tables::load(conn, &facts, &erased).await?;
        for fact in &facts {
            match fact {
                Fact::Employer(event, e) => rows.employer(event, e)?,
                Fact::Need(event, e) => rows.need(event, e),
                Fact::Person(event, e) => rows.person(event, e),
                Fact::Immersion(event, e) => rows.immersion(event, e),
            }
        }
        for subject in erased {
            if let Some(person) = rows.people.get_mut(Some(subject)) {
                person.disability = None;
            }
        }
        rows.save(conn).await?;
        Ok(())
    }
}

/// An event this projection reads, decoded.
enum Fact<'a> {
    Employer(&'a RecordedEvent, EmployerEvent),
    Need(&'a RecordedEvent, NeedEvent),
    Person(&'a RecordedEvent, PersonEvent),
    Immersion(&'a RecordedEvent, Box<ImmersionEvent>),
}

fn decode(events: &[RecordedEvent]) -> Result<Vec<Fact<'_>>, ProjectionError> {
    let mut facts = Vec::with_capacity(events.len());
    for event in events {
        if in_category(event, "employer") {
            facts.push(Fact::Employer(event, decode_one(event, "employer")?));
        } else if in_category(event, "need") {
            facts.push(Fact::Need(event, decode_one(event, "need")?));
        } else if in_category(event, "person") {
            facts.push(Fact::Person(event, decode_one(event, "person")?));
        } else if in_category(event, "immersion") {
            facts.push(Fact::Immersion(
                event,
                Box::new(decode_one(event, "immersion")?),
            ));
        }
    }
    Ok(facts)
}

#[derive(Serialize, sqlx::FromRow)]
struct EmployerRow {
    employer_id: Uuid,
    #[serde(with = "time::serde::rfc3339::option")]
    first_visited_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    first_need_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    first_hosted_at: Option<OffsetDateTime>,
    naf: String,
    departement: Option<String>,
    region: Option<String>,
}
keyed!(EmployerRow, "employers", employer_id);

#[derive(Serialize, sqlx::FromRow)]
struct PersonRow {
    person_id: Uuid,
    structure: Uuid,
    referent: Uuid,
    enrolled_on: Date,
    departement: Option<String>,
    region: Option<String>,
    age_band: String,
    disability: Option<bool>,
    #[serde(with = "time::serde::rfc3339::option")]
    project_at: Option<OffsetDateTime>,
}
keyed!(PersonRow, "people", person_id);

#[derive(Serialize)]
struct ReadjustmentRow {
    person_id: Uuid,
    cause: String,
    #[serde(with = "time::serde::rfc3339")]
    recorded_at: OffsetDateTime,
    global_position: i64,
}

#[derive(Serialize, sqlx::FromRow)]
struct VisitRow {
    visit_id: Uuid,
    employer_id: Uuid,
    structure: Uuid,
    mediator: Uuid,
    visited_on: Date,
    #[serde(with = "time::serde::rfc3339")]
    recorded_at: OffsetDateTime,
}
keyed!(VisitRow, "visits", visit_id);

#[derive(Serialize, sqlx::FromRow)]
struct NeedRow {
    need_id: Uuid,
    employer_id: Uuid,
    source: String,
    structure: Option<Uuid>,
    mediator: Option<Uuid>,
    surfaced_on: Date,
    #[serde(with = "time::serde::rfc3339")]
    surfaced_at: OffsetDateTime,
    rome_codes: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    immersion_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    offer_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    hired_at: Option<OffsetDateTime>,
}
keyed!(NeedRow, "needs", need_id);

#[derive(Serialize, sqlx::FromRow)]
struct ImmersionRow {
    immersion_id: Uuid,
    structure: Uuid,
    mediator: Uuid,
    person_id: Uuid,
    employer_id: Uuid,
    need_id: Option<Uuid>,
    objective: String,
    proposed_on: Date,
    naf: Option<String>,
    departement: Option<String>,
    region: Option<String>,
    rome_codes: Vec<String>,
    age_band: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    proposed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    person_accepted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    employer_accepted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    employer_answered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    declined_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    accepted_at: Option<OffsetDateTime>,
    required_signatories: Vec<String>,
    signatures: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    signed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    validated_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    completed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    hired_or_trained_at: Option<OffsetDateTime>,
}
keyed!(ImmersionRow, "immersions", immersion_id);

#[derive(Serialize)]
struct OutcomeRow {
    immersion_id: Uuid,
    milestone: String,
    outcome: String,
    contract: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    recorded_at: OffsetDateTime,
}

/// Keeps the first instant a step was reached.
fn first(slot: &mut Option<OffsetDateTime>, at: OffsetDateTime) {
    slot.get_or_insert(at);
}

/// Keeps the earliest of several rows' instants: the log's order is the
/// commits', which need not be the instants' across streams.
fn earliest(slot: &mut Option<OffsetDateTime>, at: OffsetDateTime) {
    *slot = Some(slot.map_or(at, |s| s.min(at)));
}

/// The rows one batch reads and writes.
struct Tables {
    employers: Rows<EmployerRow>,
    people: Rows<PersonRow>,
    visits: Rows<VisitRow>,
    needs: Rows<NeedRow>,
    immersions: Rows<ImmersionRow>,
    readjustments: Inserts<ReadjustmentRow>,
    outcomes: Inserts<OutcomeRow>,
}

impl Tables {
    /// Reads every row the facts may touch or read: the rows they create
    /// (whose first version wins), change, or copy from.
    async fn load(
        conn: &mut PgConnection,
        facts: &[Fact<'_>],
        erased: &[Uuid],
    ) -> Result<Self, sqlx::Error> {
        let (mut employers, mut people, mut visits, mut needs, mut immersions) = (
            Vec::new(),
            erased.to_vec(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let (mut hires, mut starts) = (Vec::new(), Vec::new());
        for fact in facts {
            match fact {
                Fact::Employer(_, EmployerEvent::EmployerRegistered(e)) => {
                    employers.push(e.employer_id.0);
                }
                Fact::Employer(event, EmployerEvent::EmployerVisitLogged(e)) => {
                    visits.push(e.visit_id.0);
                    employers.extend(stream_uuid(event));
                }
                Fact::Employer(..) => {}
                Fact::Need(event, e) => {
                    needs.extend(stream_uuid(event));
                    if let NeedEvent::NeedSurfaced(e) = e {
                        needs.push(e.need_id.0);
                        employers.push(e.employer_id.0);
                        if let NeedSource::Visit { visit_id } = e.source {
                            visits.push(visit_id.0);
                        }
                    }
                }
                Fact::Person(event, _) => people.extend(stream_uuid(event)),
                Fact::Immersion(event, e) => {
                    immersions.extend(stream_uuid(event));
                    match &**e {
                        ImmersionEvent::ImmersionProposed(e) => {
                            immersions.push(e.immersion_id.0);
                            employers.push(e.employer_id.0);
                            people.push(e.person_id.0);
                            needs.extend(e.need_id.map(|n| n.0));
                        }
                        ImmersionEvent::OutcomeRecorded(e)
                            if matches!(e.outcome, Outcome::Hired { .. }) =>
                        {
                            hires.extend(stream_uuid(event));
                        }
                        ImmersionEvent::ImmersionStarted(_) => starts.extend(stream_uuid(event)),
                        _ => {}
                    }
                }
            }
        }
        let immersions = Rows::<ImmersionRow>::load(conn, immersions).await?;
        // A hire counts for the need of an immersion proposed earlier, a
        // start for its employer.
        needs.extend(
            hires
                .into_iter()
                .filter_map(|h| immersions.get(Some(h))?.need_id),
        );
        employers.extend(
            starts
                .into_iter()
                .filter_map(|s| Some(immersions.get(Some(s))?.employer_id)),
        );
        Ok(Self {
            employers: Rows::load(conn, employers).await?,
            people: Rows::load(conn, people).await?,
            visits: Rows::load(conn, visits).await?,
            needs: Rows::load(conn, needs).await?,
            immersions,
            readjustments: Inserts::new("readjustments"),
            outcomes: Inserts::new("outcomes"),
        })
    }

    async fn save(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        self.employers
            .save_then(conn, &count_changes("employers"))
            .await?;
        self.people.save(conn).await?;
        self.visits
            .save_then(conn, &count_changes("visits"))
            .await?;
        self.needs.save_then(conn, &count_changes("needs")).await?;
        let changed = self.immersions.changed();
        self.immersions
            .save_then(conn, &count_changes("immersions"))
            .await?;
        if !changed.is_empty() {
            sqlx::query(sqlx::AssertSqlSafe(DELAYS_SQL.as_str()))
                .bind(&changed)
                .execute(&mut *conn)
                .await?;
        }
        self.readjustments.save(conn).await?;
        // Counted once per outcome actually added, with its immersion's
        // objective: the join the figures make.
        self.outcomes
            .save_then(
                conn,
                "insert into outcome_totals (milestone, objective, outcome, contract, count)
                 select a.milestone, i.objective, a.outcome, coalesce(a.contract, ''), count(*)
                 from added a join immersions i using (immersion_id)
                 group by 1, 2, 3, 4
                 on conflict (milestone, objective, outcome, contract)
                 do update set count = outcome_totals.count + excluded.count",
            )
            .await
    }

    fn employer(
        &mut self,
        event: &RecordedEvent,
        e: &EmployerEvent,
    ) -> Result<(), ProjectionError> {
        match e {
            EmployerEvent::EmployerRegistered(e) => {
                let commune = e.commune.commune();
                self.employers.insert(EmployerRow {
                    employer_id: e.employer_id.0,
                    first_visited_at: None,
                    first_need_at: None,
                    first_hosted_at: None,
                    naf: e.naf.as_str().to_owned(),
                    departement: commune.map(|c| c.departement.to_owned()),
                    region: commune.map(|c| c.region.to_owned()),
                });
            }
            EmployerEvent::EmployerVisitLogged(e) => {
                let employer_id = stream_uuid(event)
                    .ok_or_else(|| format!("{} has no employer id", event.stream_id))?;
                if let Some(employer) = self.employers.get_mut(Some(employer_id)) {
                    earliest(&mut employer.first_visited_at, event.recorded_at);
                }
                self.visits.insert(VisitRow {
                    visit_id: e.visit_id.0,
                    employer_id,
                    structure: e.structure.0,
                    mediator: e.mediator.0,
                    visited_on: e.visited_on,
                    recorded_at: event.recorded_at,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn need(&mut self, event: &RecordedEvent, e: &NeedEvent) {
        let rome = |codes: &[passerelle_domain::values::RomeCode]| {
            codes
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        let id = stream_uuid(event);
        match e {
            NeedEvent::NeedSurfaced(e) => {
                // A need surfaced on a visit belongs to the visit's structure
                // and mediator; otherwise to whoever recorded it.
                let (source, visit) = match e.source {
                    NeedSource::Visit { visit_id } => ("visit", self.visits.get(Some(visit_id.0))),
                    NeedSource::Portal => ("portal", None),
                    NeedSource::Phone => ("phone", None),
                };
                let row = NeedRow {
                    need_id: e.need_id.0,
                    employer_id: e.employer_id.0,
                    source: source.to_owned(),
                    structure: Some(visit.map_or(event.tenant, |v| v.structure)),
                    mediator: visit.map(|v| v.mediator).or_else(|| staff_actor(event)),
                    surfaced_on: e.surfaced_on,
                    surfaced_at: event.recorded_at,
                    rome_codes: rome(&e.description.rome_codes),
                    immersion_at: None,
                    offer_at: None,
                    hired_at: None,
                };
                self.needs.insert(row);
                if let Some(employer) = self.employers.get_mut(Some(e.employer_id.0)) {
                    earliest(&mut employer.first_need_at, event.recorded_at);
                }
            }
            NeedEvent::NeedFormalisedAsOffer(_) => {
                if let Some(need) = self.needs.get_mut(id) {
                    first(&mut need.offer_at, event.recorded_at);
                }
            }
            NeedEvent::NeedQualified(e) => {
                if let Some(need) = self.needs.get_mut(id) {
                    need.rome_codes = rome(&e.description.rome_codes);
                }
            }
            _ => {}
        }
    }

    fn person(&mut self, event: &RecordedEvent, e: &PersonEvent) {
        let id = stream_uuid(event);
        match e {
            PersonEvent::PersonEnrolled(e) => {
                let commune = e.commune.as_ref().and_then(|c| c.commune());
                self.people.insert(PersonRow {
                    person_id: e.person_id.0,
                    structure: e.structure.0,
                    referent: e.referent.0,
                    enrolled_on: e.enrolled_on,
                    departement: commune.map(|c| c.departement.to_owned()),
                    region: commune.map(|c| c.region.to_owned()),
                    age_band: tag(&e.age_band),
                    disability: None,
                    project_at: None,
                });
            }
            PersonEvent::ReferentChanged(e) => {
                if let Some(person) = self.people.get_mut(id) {
                    person.referent = e.referent.0;
                }
            }
            PersonEvent::ProjectStated(_) => {
                if let Some(person) = self.people.get_mut(id) {
                    first(&mut person.project_at, event.recorded_at);
                }
            }
            PersonEvent::ProjectReadjusted(e) => {
                if let Some(person_id) = id {
                    self.readjustments.push(ReadjustmentRow {
                        person_id,
                        cause: tag(&e.cause),
                        recorded_at: event.recorded_at,
                        global_position: event.position.global_position,
                    });
                }
            }
            PersonEvent::DisabilityRecognitionRecorded(e) => {
                if let Some(person) = self.people.get_mut(id) {
                    person.disability = match e.recognised {
                        Personal::Known(recognised) => Some(recognised),
                        Personal::Erased => None,
                    };
                }
            }
            PersonEvent::ConsentWithdrawn(e)
                if e.purpose == ConsentPurpose::DisabilityRecognition =>
            {
                if let Some(person) = self.people.get_mut(id) {
                    person.disability = None;
                }
            }
            _ => {}
        }
    }

    fn immersion(&mut self, event: &RecordedEvent, e: &ImmersionEvent) {
        let at = event.recorded_at;
        if let ImmersionEvent::ImmersionProposed(e) = e {
            self.proposed(e, at);
            return;
        }
        let id = stream_uuid(event);
        if let (ImmersionEvent::OutcomeRecorded(e), Some(immersion_id)) = (e, id) {
            self.outcomes.push(OutcomeRow {
                immersion_id,
                milestone: tag(&e.milestone),
                outcome: tag(&e.outcome),
                contract: match &e.outcome {
                    Outcome::Hired { contract } => Some(tag(contract)),
                    _ => None,
                },
                recorded_at: at,
            });
        }
        let Some(row) = self.immersions.get_mut(id) else {
            return;
        };
        match e {
            ImmersionEvent::ProposalDeclined(e) => {
                first(&mut row.declined_at, at);
                if e.by == Respondent::Employer {
                    first(&mut row.employer_answered_at, at);
                }
            }
            ImmersionEvent::ProposalAcceptedByPerson(_) => {
                first(&mut row.person_accepted_at, at);
                if row.employer_accepted_at.is_some() {
                    first(&mut row.accepted_at, at);
                }
            }
            ImmersionEvent::ProposalAcceptedByEmployer(_) => {
                first(&mut row.employer_accepted_at, at);
                first(&mut row.employer_answered_at, at);
                if row.person_accepted_at.is_some() {
                    first(&mut row.accepted_at, at);
                }
            }
            // Who must sign it now; signatures given before a modification
            // no longer count.
            ImmersionEvent::ConventionDrafted(ConventionDrafted { convention })
            | ImmersionEvent::ConventionModified(ConventionModified { convention, .. }) => {
                row.required_signatories = required_signatories(convention);
                row.signatures.clear();
            }
            ImmersionEvent::ConventionSigned(e) if !e.renewal => {
                row.signatures.push(tag(&e.signatory));
                if row
                    .required_signatories
                    .iter()
                    .all(|s| row.signatures.contains(s))
                {
                    first(&mut row.signed_at, at);
                }
            }
            ImmersionEvent::ConventionValidated(e) if !e.renewal => {
                first(&mut row.validated_at, at);
            }
            ImmersionEvent::ImmersionStarted(_) => {
                first(&mut row.started_at, at);
                // Hosting counts from when the immersion was both proposed
                // and started, as the figures select it.
                let hosting = row.proposed_at.max(row.started_at.unwrap_or(at));
                if let Some(employer) = self.employers.get_mut(Some(row.employer_id)) {
                    earliest(&mut employer.first_hosted_at, hosting);
                }
            }
            ImmersionEvent::ImmersionCompleted(_) => first(&mut row.completed_at, at),
            ImmersionEvent::OutcomeRecorded(e) => {
                if matches!(e.outcome, Outcome::Hired { .. } | Outcome::Training) {
                    first(&mut row.hired_or_trained_at, at);
                }
                let need = row.need_id;
                if matches!(e.outcome, Outcome::Hired { .. })
                    && let Some(need) = self.needs.get_mut(need)
                {
                    first(&mut need.hired_at, at);
                }
            }
            _ => {}
        }
    }

    fn proposed(
        &mut self,
        e: &passerelle_domain::immersion::ImmersionProposed,
        at: OffsetDateTime,
    ) {
        // The sector, territory and public are copied at the proposal: the
        // figures filter on one table.
        let employer = self.employers.get(Some(e.employer_id.0));
        let need = self.needs.get(e.need_id.map(|n| n.0));
        let person = self.people.get(Some(e.person_id.0));
        self.immersions.insert(ImmersionRow {
            immersion_id: e.immersion_id.0,
            structure: e.structure.0,
            mediator: e.mediator.0,
            person_id: e.person_id.0,
            employer_id: e.employer_id.0,
            need_id: e.need_id.map(|n| n.0),
            objective: tag(&e.objective),
            proposed_on: e.proposed_on,
            naf: employer.map(|e| e.naf.clone()),
            departement: employer.and_then(|e| e.departement.clone()),
            region: employer.and_then(|e| e.region.clone()),
            rome_codes: need.map(|n| n.rome_codes.clone()).unwrap_or_default(),
            age_band: person.map(|p| p.age_band.clone()),
            proposed_at: at,
            person_accepted_at: None,
            employer_accepted_at: None,
            employer_answered_at: None,
            declined_at: None,
            accepted_at: None,
            required_signatories: Vec::new(),
            signatures: Vec::new(),
            signed_at: None,
            validated_at: None,
            started_at: None,
            completed_at: None,
            hired_or_trained_at: None,
        });
        if let Some(need) = self.needs.get_mut(e.need_id.map(|n| n.0)) {
            first(&mut need.immersion_at, at);
        }
    }
}

/// What the figures are restricted to. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Immersions proposed from this day…
    pub from: Option<Date>,
    /// …to this day, inclusive.
    pub to: Option<Date>,
    pub structure: Option<Uuid>,
    pub mediator: Option<Uuid>,
    pub departement: Option<String>,
    pub region: Option<String>,
    pub naf: Option<String>,
    pub rome: Option<String>,
    pub objective: Option<String>,
    pub age_band: Option<String>,
    /// People with a disability recognition recorded with their consent.
    pub disability: Option<bool>,
}

/// A query failed, or a filter was given that a dashboard cannot apply.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The filter field (its GraphQL name) that does not apply.
    #[error("the filter {0} does not apply to this dashboard")]
    NotApplicable(&'static str),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Where each filter reads in one dashboard's query: a column expression,
/// or `None` when the filter does not apply there.
struct Columns {
    /// The day the period filters read, if they apply.
    day: Option<&'static str>,
    structure: Option<&'static str>,
    mediator: Option<&'static str>,
    departement: Option<&'static str>,
    region: Option<&'static str>,
    naf: Option<&'static str>,
    /// An array column.
    rome: Option<&'static str>,
    objective: Option<&'static str>,
    age_band: Option<&'static str>,
    /// The person the row is about, for the disability filter.
    person: Option<&'static str>,
}

const IMMERSION_COLUMNS: Columns = Columns {
    day: Some("i.proposed_on"),
    structure: Some("i.structure"),
    mediator: Some("i.mediator"),
    departement: Some("i.departement"),
    region: Some("i.region"),
    naf: Some("i.naf"),
    rome: Some("i.rome_codes"),
    objective: Some("i.objective"),
    age_band: Some("i.age_band"),
    person: Some("i.person_id"),
};

/// Appends ` and …` conditions for `filter`, reading where `columns` says.
fn restrict(
    q: &mut QueryBuilder<Postgres>,
    filter: &Filter,
    columns: &Columns,
) -> Result<(), DashboardError> {
    fn column(
        column: Option<&'static str>,
        name: &'static str,
    ) -> Result<&'static str, DashboardError> {
        column.ok_or(DashboardError::NotApplicable(name))
    }
    if let Some(from) = filter.from {
        q.push(format_args!(" and {} >= ", column(columns.day, "from")?))
            .push_bind(from);
    }
    if let Some(to) = filter.to {
        q.push(format_args!(" and {} <= ", column(columns.day, "to")?))
            .push_bind(to);
    }
    let texts = [
        (columns.departement, "departement", &filter.departement),
        (columns.region, "region", &filter.region),
        (columns.naf, "naf", &filter.naf),
        (columns.objective, "objective", &filter.objective),
        (columns.age_band, "ageBand", &filter.age_band),
    ];
    for (at, name, value) in texts {
        if let Some(value) = value {
            q.push(format_args!(" and {} = ", column(at, name)?))
                .push_bind(value.clone());
        }
    }
    let ids = [
        (columns.structure, "structureId", filter.structure),
        (columns.mediator, "mediatorId", filter.mediator),
    ];
    for (at, name, value) in ids {
        if let Some(value) = value {
            q.push(format_args!(" and {} = ", column(at, name)?))
                .push_bind(value);
        }
    }
    if let Some(rome) = &filter.rome {
        let at = column(columns.rome, "rome")?;
        q.push(" and ")
            .push_bind(rome.clone())
            .push(format_args!(" = any({at})"));
    }
    if let Some(disability) = filter.disability {
        let at = column(columns.person, "disability")?;
        q.push(format_args!(
            " and exists (select 1 from dashboards.people d where d.person_id = {at} and d.disability = "
        ))
        .push_bind(disability)
        .push(")");
    }
    Ok(())
}

/// The steps of the funnel, in order, with the column of the instant each
/// was reached.
pub const FUNNEL_STEPS: [(&str, &str); 7] = [
    ("proposed", "proposed_at"),
    ("accepted", "accepted_at"),
    ("signed", "signed_at"),
    ("validated", "validated_at"),
    ("started", "started_at"),
    ("completed", "completed_at"),
    ("hired_or_trained", "hired_or_trained_at"),
];

/// The step number of the employer's answer in `delays`.
const ANSWER_STEP: i16 = 7;

/// The delays kept in `delays`: (step number, column of the instant, column
/// of the instant it runs from).
fn delay_steps() -> impl Iterator<Item = (i16, &'static str, &'static str)> {
    (1..FUNNEL_STEPS.len())
        .map(|n| (n as i16, FUNNEL_STEPS[n].1, FUNNEL_STEPS[n - 1].1))
        .chain([(ANSWER_STEP, "employer_answered_at", "proposed_at")])
}

/// The seconds from instant `since` to instant `at` (SQL expressions), as
/// float8 (`date_part`), which sorts faster than intervals or the numeric
/// `extract` gives. Written once: the medians read from `delays` and those
/// the filtered queries compute agree to the bit only if both use this.
fn seconds_between(at: &str, since: &str) -> String {
    format!("date_part('epoch', {at}) - date_part('epoch', {since})")
}

/// The median, in days, of the delays from `since` to `at` (columns of
/// `dashboards.immersions i`) of the rows where `at` was reached by `t.as_of`.
fn median_days_sql(at: &str, since: &str) -> String {
    format!(
        "percentile_cont(0.5) within group (order by {}) filter (where i.{at} <= t.as_of) / 86400",
        seconds_between(&format!("i.{at}"), &format!("i.{since}"))
    )
}

/// Whether the figures are of every immersion as they stand, which the
/// totals kept beside the facts answer.
fn everything(filter: &Filter, as_of: Option<OffsetDateTime>) -> bool {
    as_of.is_none() && *filter == Filter::default()
}

/// A proposal the employer had not answered, nor either party declined,
/// 7 days after it was made (of `dashboards.immersions i`): counted from
/// its seventh day on.
const KEPT_WAITING: &str = "(i.employer_answered_at is null
                              or i.employer_answered_at > i.proposed_at + interval '7 days')
                             and (i.declined_at is null
                                  or i.declined_at > i.proposed_at + interval '7 days')";

/// The name in `totals` of the count of `table`'s rows where `column` is set.
fn reached(table: &str, column: &str) -> String {
    format!("{table}.{column}")
}

/// The name in `totals` of the count of rows of `delays` at `step`.
fn delays_at(step: i16) -> String {
    format!("delays.{step}")
}

/// The counts kept in `totals` for the rows of `table` (`i`): each name,
/// and the condition a row meets to be counted.
fn counters(table: &str) -> Vec<(String, String)> {
    let set = |columns: &[&str]| -> Vec<(String, String)> {
        columns
            .iter()
            .map(|c| (reached(table, c), format!("i.{c} is not null")))
            .collect()
    };
    match table {
        "immersions" => {
            let mut counters = set(&FUNNEL_STEPS.map(|(_, column)| column));
            // A delay is kept once both its steps are reached.
            counters.extend(delay_steps().map(|(step, at, since)| {
                (
                    delays_at(step),
                    format!("i.{at} is not null and i.{since} is not null"),
                )
            }));
            counters.push((reached(table, "kept_waiting"), KEPT_WAITING.to_owned()));
            counters
        }
        "employers" => set(&["first_visited_at", "first_need_at", "first_hosted_at"]),
        // Every row: its instant is always set.
        "visits" => set(&["recorded_at"]),
        "needs" => set(&["surfaced_at"]),
        _ => unreachable!("no totals are kept for {table}"),
    }
}

/// Adds to `totals` the change the rows written make to the counts of
/// [`counters`]: how many of the rows as they are (`added`) meet each
/// condition, less how many of them did before (`old`). See
/// [`Rows::save_then`].
fn count_changes(table: &str) -> String {
    let counters = counters(table);
    let names: Vec<String> = counters
        .iter()
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    let counts: Vec<String> = counters
        .iter()
        .map(|(_, condition)| format!("count(*) filter (where {condition})"))
        .collect();
    let (names, counts) = (names.join(", "), counts.join(", "));
    format!(
        "insert into totals (name, n)
         select u.name, u.new_count - u.old_count
         from unnest(array[{names}]::text[],
                     (select array[{counts}] from added i),
                     (select array[{counts}] from old i)) u(name, new_count, old_count)
         where u.new_count <> u.old_count
         on conflict (name) do update set n = totals.n + excluded.n"
    )
}

/// The counts of `totals` of these names, in their order.
async fn totals(conn: &mut PgConnection, names: &[String]) -> Result<Vec<i64>, sqlx::Error> {
    let found: HashMap<String, i64> =
        sqlx::query_as("select name, n from dashboards.totals where name = any($1)")
            .bind(names)
            .fetch_all(conn)
            .await?
            .into_iter()
            .collect();
    Ok(names
        .iter()
        .map(|name| found.get(name).copied().unwrap_or(0))
        .collect())
}

/// Adds the delays of the immersions `$1` newly complete.
static DELAYS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let steps: Vec<String> = delay_steps()
        .map(|(step, at, since)| format!("({step}::int2, i.{at}, i.{since})"))
        .collect();
    format!(
        "insert into delays (immersion_id, step, seconds)
         select i.immersion_id, s.step, {}
         from unnest($1::uuid[]) k join immersions i on i.immersion_id = k
              cross join lateral (values {}) s(step, at, since)
         where s.at is not null and s.since is not null
         on conflict do nothing",
        seconds_between("s.at", "s.since"),
        steps.join(", ")
    )
});

/// The median, in days, of every immersion's delay at each of `steps`
/// (step number, how many delays it has), read from `delays` at the middle
/// position: `percentile_cont(0.5)`, the middle value or the two middle
/// ones interpolated as PostgreSQL does. `conn` must read in the snapshot
/// the counts were taken in.
async fn whole_medians(
    conn: &mut PgConnection,
    steps: &[(i16, i64)],
) -> Result<Vec<Option<f64>>, sqlx::Error> {
    let mut q = QueryBuilder::<Postgres>::new("select ");
    let mut separated = q.separated(", ");
    for &(step, count) in steps {
        separated
            .push("array(select seconds from dashboards.delays where step = ")
            .push_bind_unseparated(step)
            .push_unseparated(" order by seconds offset ")
            .push_bind_unseparated((count - 1).max(0) / 2)
            .push_unseparated(" limit ")
            .push_bind_unseparated(if count % 2 == 1 { 1i64 } else { 2 })
            .push_unseparated(")");
    }
    let row = q.build().fetch_one(conn).await?;
    use sqlx::Row as _;
    (0..steps.len())
        .map(|n| {
            let middle: Vec<f64> = row.try_get(n)?;
            Ok(match middle[..] {
                [] => None,
                [one] => Some(one / 86_400.0),
                [low, high, ..] => Some((low + (high - low) * 0.5) / 86_400.0),
            })
        })
        .collect()
}

/// A transaction that reads in one snapshot, for figures read in several
/// statements.
async fn snapshot(db: &sqlx::PgPool) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// One step of the funnel.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelStep {
    pub step: &'static str,
    /// Immersions that reached this step.
    pub count: i64,
    /// Median days from the previous step, among those that reached this one.
    pub median_days: Option<f64>,
}

/// The funnel of the immersions `filter` selects, as it stood at `as_of`
/// (now when `None`).
pub async fn funnel(
    db: &sqlx::PgPool,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
) -> Result<Vec<FunnelStep>, DashboardError> {
    if everything(filter, as_of) {
        return whole_funnel(db).await;
    }
    // Each median sorts its step's delays, most of the cost: two queries,
    // run side by side on the pool, share the six of them. The first also
    // counts every step.
    let mut counts_and_first = funnel_query(filter, as_of, true, 1..4)?;
    let mut last = funnel_query(filter, as_of, false, 4..FUNNEL_STEPS.len())?;
    let (first, second) = futures::future::try_join(
        counts_and_first.build().fetch_one(db),
        last.build().fetch_one(db),
    )
    .await?;
    use sqlx::Row as _;
    let steps: Result<Vec<FunnelStep>, sqlx::Error> = FUNNEL_STEPS
        .iter()
        .enumerate()
        .map(|(n, (step, _))| {
            let median_days = match n {
                0 => None,
                1..4 => first.try_get(FUNNEL_STEPS.len() + n - 1)?,
                _ => second.try_get(n - 4)?,
            };
            Ok(FunnelStep {
                step,
                count: first.try_get(n)?,
                median_days,
            })
        })
        .collect();
    Ok(steps?)
}

/// The funnel of every immersion as it stands: the counts from `totals`,
/// the medians read by position in `delays`, in one snapshot.
async fn whole_funnel(db: &sqlx::PgPool) -> Result<Vec<FunnelStep>, DashboardError> {
    let delays: Vec<i16> = delay_steps()
        .map(|(step, _, _)| step)
        .filter(|&step| step != ANSWER_STEP)
        .collect();
    let names: Vec<String> = FUNNEL_STEPS
        .iter()
        .map(|(_, column)| reached("immersions", column))
        .chain(delays.iter().map(|&step| delays_at(step)))
        .collect();
    let mut tx = snapshot(db).await?;
    let counts = totals(&mut tx, &names).await?;
    let steps: Vec<(i16, i64)> = delays
        .into_iter()
        .zip(counts[FUNNEL_STEPS.len()..].iter().copied())
        .collect();
    let medians = whole_medians(&mut tx, &steps).await?;
    tx.commit().await?;
    Ok(FUNNEL_STEPS
        .iter()
        .enumerate()
        .map(|(n, (step, _))| FunnelStep {
            step,
            count: counts[n],
            median_days: n.checked_sub(1).and_then(|m| medians[m]),
        })
        .collect())
}

/// The funnel's counts (when `counts`), then the median delay in days of
/// each step of `medians` from the step before.
fn funnel_query(
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
    counts: bool,
    medians: std::ops::Range<usize>,
) -> Result<QueryBuilder<Postgres>, DashboardError> {
    let mut select = Vec::new();
    if counts {
        for (_, column) in FUNNEL_STEPS {
            select.push(format!("count(*) filter (where i.{column} <= t.as_of)"));
        }
    }
    for n in medians {
        select.push(median_days_sql(FUNNEL_STEPS[n].1, FUNNEL_STEPS[n - 1].1));
    }
    let mut q = QueryBuilder::<Postgres>::new(format!("select {}", select.join(", ")));
    q.push(" from dashboards.immersions i, (select coalesce(")
        .push_bind(as_of)
        .push("::timestamptz, 'infinity') as as_of) t where i.proposed_at <= t.as_of");
    restrict(&mut q, filter, &IMMERSION_COLUMNS)?;
    Ok(q)
}

/// How many immersions stood at each outcome at a milestone.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutcomeCount {
    pub milestone: String,
    pub objective: String,
    pub outcome: String,
    /// For a hire, the contract.
    pub contract: Option<String>,
    pub count: i64,
}

/// The outcomes of the immersions `filter` selects, by milestone, objective,
/// outcome and contract: for each immersion and milestone, the outcome
/// recorded by `as_of` (now when `None`).
pub async fn outcomes(
    db: impl PgExecutor<'_>,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
) -> Result<Vec<OutcomeCount>, DashboardError> {
    let order = "order by case milestone when 'end' then 0 when 'one_month' then 1
                                    when 'three_months' then 3 else 6 end,
                   objective, outcome, contract nulls first";
    if everything(filter, as_of) {
        return Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select milestone, objective, outcome, nullif(contract, '') as contract, count
             from dashboards.outcome_totals {order}"
        )))
        .fetch_all(db)
        .await?);
    }
    // The outcome recorded by `as_of` at each milestone (once each).
    let mut q = QueryBuilder::<Postgres>::new(
        "select o.milestone, i.objective, o.outcome, o.contract, count(*) as count
         from dashboards.outcomes o join dashboards.immersions i using (immersion_id),
              (select coalesce(",
    );
    q.push_bind(as_of).push(
        "::timestamptz, 'infinity') as as_of) t
         where o.recorded_at <= t.as_of",
    );
    restrict(&mut q, filter, &IMMERSION_COLUMNS)?;
    q.push(format_args!(
        " group by o.milestone, i.objective, o.outcome, o.contract {order}"
    ));
    Ok(q.build_query_as().fetch_all(db).await?)
}

/// The instant bound of an `as_of` (now when `None`), as a SQL expression
/// pushed into `q`.
fn push_as_of(q: &mut QueryBuilder<Postgres>, as_of: Option<OffsetDateTime>) {
    q.push("coalesce(")
        .push_bind(as_of)
        .push("::timestamptz, 'infinity')");
}

/// Needs surfaced by one source, and what became of them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NeedsBySource {
    /// `visit`, `portal` or `phone`.
    pub source: String,
    pub needs: i64,
    pub became_immersion: i64,
    pub became_offer: i64,
    pub led_to_hire: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsConversion {
    pub visits: i64,
    pub by_source: Vec<NeedsBySource>,
}

const VISIT_COLUMNS: Columns = Columns {
    day: Some("v.visited_on"),
    structure: Some("v.structure"),
    mediator: Some("v.mediator"),
    departement: Some("e.departement"),
    region: Some("e.region"),
    naf: Some("e.naf"),
    rome: None,
    objective: None,
    age_band: None,
    person: None,
};

const NEED_COLUMNS: Columns = Columns {
    day: Some("n.surfaced_on"),
    structure: Some("n.structure"),
    mediator: Some("n.mediator"),
    departement: Some("e.departement"),
    region: Some("e.region"),
    naf: Some("e.naf"),
    rome: None,
    objective: None,
    age_band: None,
    person: None,
};

/// The join from visits or needs to their employers, which only the
/// employers' own filters need: every visit and need is of a registered
/// employer (a visit is logged on the employer's stream, and a need for an
/// employer the views do not know is refused), so without those filters the
/// join selects every row and costs a hash of the employers for nothing.
fn employers_join(filter: &Filter) -> &'static str {
    if filter.departement.is_some() || filter.region.is_some() || filter.naf.is_some() {
        " join dashboards.employers e using (employer_id)"
    } else {
        ""
    }
}

/// Visits, the needs surfaced (per source) and how many became an
/// immersion, an offer and a hire: the proof that upstream work pays.
pub async fn needs_conversion(
    db: &sqlx::PgPool,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
) -> Result<NeedsConversion, DashboardError> {
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "select count(*) from dashboards.visits v{} where v.recorded_at <= ",
        employers_join(filter)
    ));
    push_as_of(&mut q, as_of);
    restrict(&mut q, filter, &VISIT_COLUMNS)?;
    let mut visits = q;

    let mut q = QueryBuilder::<Postgres>::new("with t as (select ");
    push_as_of(&mut q, as_of);
    q.push(format_args!(
        " as as_of)
         select n.source, count(*) as needs,
                count(*) filter (where n.immersion_at <= t.as_of) as became_immersion,
                count(*) filter (where n.offer_at <= t.as_of) as became_offer,
                count(*) filter (where n.hired_at <= t.as_of) as led_to_hire
         from t, dashboards.needs n{}
         where n.surfaced_at <= t.as_of",
        employers_join(filter)
    ));
    restrict(&mut q, filter, &NEED_COLUMNS)?;
    q.push(" group by n.source order by n.source");
    // Two scans of their own: run side by side on the pool.
    let (visits, by_source) = futures::future::try_join(
        visits.build_query_scalar().fetch_one(db),
        q.build_query_as().fetch_all(db),
    )
    .await?;
    Ok(NeedsConversion { visits, by_source })
}

/// How many readjustments the projects needed, and what caused them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectReadjustments {
    /// People with a project stated.
    pub projects: i64,
    /// People by number of readjustments: 0, 1, 2, then 3 or more.
    pub by_iterations: [i64; 4],
    /// Readjustments by cause (`immersion_feedback`, `job_inquiry`,
    /// `peer_meeting`, `mentorship`).
    pub by_cause: Vec<(String, i64)>,
}

const PEOPLE_COLUMNS: Columns = Columns {
    day: Some("p.enrolled_on"),
    structure: Some("p.structure"),
    mediator: Some("p.referent"),
    departement: Some("p.departement"),
    region: Some("p.region"),
    naf: None,
    rome: None,
    objective: None,
    age_band: Some("p.age_band"),
    person: Some("p.person_id"),
};

pub async fn project_readjustments(
    db: &sqlx::PgPool,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
) -> Result<ProjectReadjustments, DashboardError> {
    // Readjustments are few beside people: counted per person first, then
    // joined to the people selected. Two queries, run side by side.
    let mut q = QueryBuilder::<Postgres>::new("with t as (select ");
    push_as_of(&mut q, as_of);
    q.push(
        " as as_of)
         select count(*), count(*) filter (where r.n is null), count(*) filter (where r.n = 1),
                count(*) filter (where r.n = 2), count(*) filter (where r.n >= 3)
         from t cross join dashboards.people p
              left join (select r.person_id, count(*) as n
                         from dashboards.readjustments r, t
                         where r.recorded_at <= t.as_of group by r.person_id) r
                     using (person_id)
         where p.project_at <= t.as_of",
    );
    restrict(&mut q, filter, &PEOPLE_COLUMNS)?;
    let mut iterations = q;

    let mut q = QueryBuilder::<Postgres>::new("with t as (select ");
    push_as_of(&mut q, as_of);
    q.push(
        " as as_of)
         select r.cause, count(*)
         from t cross join dashboards.readjustments r join dashboards.people p using (person_id)
         where r.recorded_at <= t.as_of and p.project_at <= t.as_of",
    );
    restrict(&mut q, filter, &PEOPLE_COLUMNS)?;
    q.push(" group by r.cause order by r.cause");
    let mut causes = q;

    type Iterations = (i64, i64, i64, i64, i64);
    let ((projects, none, one, two, more), by_cause): (Iterations, Vec<(String, i64)>) =
        futures::future::try_join(
            iterations.build_query_as().fetch_one(db),
            causes.build_query_as().fetch_all(db),
        )
        .await?;
    Ok(ProjectReadjustments {
        projects,
        by_iterations: [none, one, two, more],
        by_cause,
    })
}

/// How employers take part: visits, needs, immersions hosted, and how fast
/// they answer a proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct EmployerEngagement {
    pub employers_visited: i64,
    pub visits: i64,
    pub employers_with_needs: i64,
    pub needs: i64,
    pub employers_hosting: i64,
    pub immersions_hosted: i64,
    pub proposals: i64,
    pub proposals_answered: i64,
    pub median_days_to_answer: Option<f64>,
    /// Proposals the employer had not answered 7 days after.
    pub waiting_over_seven_days: i64,
}

/// Where the filters read for the employers themselves: only what
/// describes an employer applies.
const EMPLOYER_COLUMNS: Columns = Columns {
    day: None,
    structure: None,
    mediator: None,
    ..VISIT_COLUMNS
};

/// As of `as_of` (as it stands when `None`); "waiting for over seven days"
/// counts up to `as_of`, or `now` when live.
pub async fn employer_engagement(
    db: &sqlx::PgPool,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<EmployerEngagement, DashboardError> {
    // Figures about the person or the objective say nothing of employers.
    for (given, name) in [
        (filter.rome.is_some(), "rome"),
        (filter.objective.is_some(), "objective"),
        (filter.age_band.is_some(), "ageBand"),
        (filter.disability.is_some(), "disability"),
    ] {
        if given {
            return Err(DashboardError::NotApplicable(name));
        }
    }
    let (
        (employers_visited, visits),
        (employers_with_needs, needs),
        employers_hosting,
        (proposals, proposals_answered, median, waiting, immersions_hosted),
    ) = if everything(filter, as_of) {
        whole_engagement(db, now).await?
    } else {
        scanned_engagement(db, filter, as_of, now).await?
    };
    Ok(EmployerEngagement {
        employers_visited,
        visits,
        employers_with_needs,
        needs,
        employers_hosting,
        immersions_hosted,
        proposals,
        proposals_answered,
        median_days_to_answer: median,
        waiting_over_seven_days: waiting,
    })
}

// Employers, and the rows counted.
type PerEmployer = (i64, i64);
// (proposals, answered, median days to answer, waiting, started)
type Proposals = (i64, i64, Option<f64>, i64, i64);
// Visits, needs, employers hosting, proposals: the parts of the engagement.
type Engagement = (PerEmployer, PerEmployer, i64, Proposals);

/// The engagement of the employers and the activity `filter` selects, as
/// of `as_of`, from the facts.
async fn scanned_engagement(
    db: &sqlx::PgPool,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<Engagement, DashboardError> {
    // Filtered on the employers alone, an employer is engaged by `as_of`
    // when its earliest visit, need or start is: counted from their row.
    // Filtered on the activity (who, when), its rows are grouped by employer.
    let on_employers_only = filter.structure.is_none()
        && filter.mediator.is_none()
        && filter.from.is_none()
        && filter.to.is_none();

    // Visits and needs by `as_of`: counted, and when grouped, per employer.
    let activity = |table: &str, at: &str, columns: &Columns| {
        let a = &table[..1];
        let rows = format!(
            "dashboards.{table} {a}{} where {a}.{at} <= ",
            employers_join(filter)
        );
        let mut q = QueryBuilder::<Postgres>::new(if on_employers_only {
            format!("select count(*) from {rows}")
        } else {
            // Grouping rows per employer (a hash table) costs less than
            // sorting them for `count(distinct …)`.
            format!(
                "select count(*), coalesce(sum(n), 0)::int8 from (
                     select {a}.employer_id, count(*) as n from {rows}"
            )
        });
        push_as_of(&mut q, as_of);
        restrict(&mut q, filter, columns)?;
        if !on_employers_only {
            q.push(format_args!(" group by {a}.employer_id) per_employer"));
        }
        Ok::<_, DashboardError>(q)
    };
    let mut visits_query = activity("visits", "recorded_at", &VISIT_COLUMNS)?;
    let mut needs_query = activity("needs", "surfaced_at", &NEED_COLUMNS)?;

    let mut q = QueryBuilder::<Postgres>::new("with t as (select ");
    push_as_of(&mut q, as_of);
    q.push(" as as_of, ").push_bind(as_of.unwrap_or(now)).push(
        "::timestamptz as waited_to)
         select count(*),
                count(*) filter (where i.employer_answered_at <= t.as_of),",
    );
    q.push(median_days_sql("employer_answered_at", "proposed_at"));
    q.push(format_args!(
        ", count(*) filter (where i.proposed_at <= t.waited_to - interval '7 days'
                              and {KEPT_WAITING}),
           count(*) filter (where i.started_at <= t.as_of)
         from t, dashboards.immersions i
         where i.proposed_at <= t.as_of"
    ));
    restrict(&mut q, filter, &IMMERSION_COLUMNS)?;
    let proposals = q.build_query_as().fetch_one(db);
    // The scans run side by side on the pool.
    Ok(if on_employers_only {
        let mut q = QueryBuilder::<Postgres>::new("with t as (select ");
        push_as_of(&mut q, as_of);
        q.push(
            " as as_of)
             select count(*) filter (where e.first_visited_at <= t.as_of),
                    count(*) filter (where e.first_need_at <= t.as_of),
                    count(*) filter (where e.first_hosted_at <= t.as_of)
             from t, dashboards.employers e where true",
        );
        restrict(&mut q, filter, &EMPLOYER_COLUMNS)?;
        let mut employers_query = q;
        let ((visited, with_needs, hosting), visits, needs, proposals): (
            (i64, i64, i64),
            i64,
            i64,
            Proposals,
        ) = futures::future::try_join4(
            employers_query.build_query_as().fetch_one(db),
            visits_query.build_query_scalar().fetch_one(db),
            needs_query.build_query_scalar().fetch_one(db),
            proposals,
        )
        .await?;
        ((visited, visits), (with_needs, needs), hosting, proposals)
    } else {
        // Employers hosting: those with an immersion started by `as_of`.
        let mut q = QueryBuilder::<Postgres>::new(
            "select count(*) from (
                 select i.employer_id from dashboards.immersions i
                 where i.started_at <= ",
        );
        push_as_of(&mut q, as_of);
        q.push(" and i.proposed_at <= ");
        push_as_of(&mut q, as_of);
        restrict(&mut q, filter, &IMMERSION_COLUMNS)?;
        q.push(" group by i.employer_id) per_employer");
        let mut hosting_query = q;
        futures::future::try_join4(
            visits_query.build_query_as().fetch_one(db),
            needs_query.build_query_as().fetch_one(db),
            hosting_query.build_query_scalar().fetch_one(db),
            proposals,
        )
        .await?
    })
}

/// Every employer's engagement as it stands, from `totals`; the median
/// time to answer read by position in `delays`; the proposals kept
/// waiting, all those counted less the ones of the last 7 days, whose
/// seventh day has not come. One snapshot, so that the parts agree.
async fn whole_engagement(
    db: &sqlx::PgPool,
    now: OffsetDateTime,
) -> Result<Engagement, DashboardError> {
    let names = [
        reached("employers", "first_visited_at"),
        reached("visits", "recorded_at"),
        reached("employers", "first_need_at"),
        reached("needs", "surfaced_at"),
        reached("employers", "first_hosted_at"),
        reached("immersions", "started_at"),
        reached("immersions", "proposed_at"),
        delays_at(ANSWER_STEP),
        reached("immersions", "kept_waiting"),
    ];
    let mut tx = snapshot(db).await?;
    let counts = totals(&mut tx, &names).await?;
    let [
        visited,
        visits,
        with_needs,
        needs,
        hosting,
        hosted,
        proposed,
        answered,
        kept_waiting,
    ] = counts[..]
    else {
        unreachable!("one count per name");
    };
    let median = whole_medians(&mut tx, &[(ANSWER_STEP, answered)]).await?[0];
    let not_yet: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select count(*) from dashboards.immersions i
         where i.proposed_at at time zone 'UTC'
               > ($1::timestamptz - interval '7 days') at time zone 'UTC'
           and {KEPT_WAITING}"
    )))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let waiting = kept_waiting - not_yet;
    Ok((
        (visited, visits),
        (with_needs, needs),
        hosting,
        (proposed, answered, median, waiting, hosted),
    ))
}
