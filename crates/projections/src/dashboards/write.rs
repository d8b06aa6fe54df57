//! The write side: how a batch of events changes the facts, and the
//! totals and delays kept with them in the same batch.

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
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::totals::{DELAYS_SQL, READJUSTMENTS_COUNTED, count_changes};
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

    /// The streams [`decode`] reads, and erasures.
    fn handles(&self, event: &RecordedEvent) -> bool {
        ["employer", "need", "person", "immersion"]
            .iter()
            .any(|c| in_category(event, c))
            || event.event_type == passerelle_store::ERASED_EVENT
    }

    /// Byte for byte the DDL as last released, indentation included: a
    /// version records its hash, and any change to the text builds the
    /// projection again on every deployed database (which is how a release
    /// that changes what the rows hold, such as following corrections, has
    /// them made again from the log). Trimmed, so that a final newline an
    /// editor adds changes nothing.
    fn schema_sql(&self) -> &'static str {
        include_str!("schema.sql").trim_end()
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

/// What a batch corrects that immersions copied at their proposal.
#[derive(Default)]
struct Corrected {
    employers: Vec<Uuid>,
    people: Vec<Uuid>,
    needs: Vec<Uuid>,
}

impl Corrected {
    fn is_empty(&self) -> bool {
        self.employers.is_empty() && self.people.is_empty() && self.needs.is_empty()
    }
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
        let mut corrected = Corrected::default();
        for fact in facts {
            match fact {
                Fact::Employer(_, EmployerEvent::EmployerRegistered(e)) => {
                    employers.push(e.employer_id.0);
                }
                Fact::Employer(event, EmployerEvent::EmployerVisitLogged(e)) => {
                    visits.push(e.visit_id.0);
                    employers.extend(stream_uuid(event));
                }
                Fact::Employer(event, EmployerEvent::EmployerCorrected(e)) => {
                    if e.changes.naf.is_some() || e.changes.commune.is_some() {
                        employers.extend(stream_uuid(event));
                        corrected.employers.extend(stream_uuid(event));
                    }
                }
                Fact::Employer(_, EmployerEvent::EmployerVisitCorrected(e)) => {
                    if e.changes.visited_on.is_some() {
                        visits.push(e.visit_id.0);
                    }
                }
                Fact::Employer(..) => {}
                Fact::Need(event, e) => {
                    needs.extend(stream_uuid(event));
                    if let NeedEvent::NeedCorrected(_) = e {
                        corrected.needs.extend(stream_uuid(event));
                    }
                    if let NeedEvent::NeedSurfaced(e) = e {
                        needs.push(e.need_id.0);
                        employers.push(e.employer_id.0);
                        if let NeedSource::Visit { visit_id } = e.source {
                            visits.push(visit_id.0);
                        }
                    }
                }
                Fact::Person(event, e) => {
                    people.extend(stream_uuid(event));
                    if let PersonEvent::IdentityCorrected(e) = e
                        && e.age_band.is_some()
                    {
                        corrected.people.extend(stream_uuid(event));
                    }
                }
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
        // The immersions that copied what a correction changes: the
        // employer's sector and territory, the person's age band, the
        // need's jobs; each column has its index, as most batches of a
        // rebuild hold a correction.
        if !corrected.is_empty() {
            let copied: Vec<Uuid> = sqlx::query_scalar(
                "select immersion_id from immersions
                 where employer_id = any($1) or person_id = any($2) or need_id = any($3)
                 -- dashboards: copies of corrected values",
            )
            .bind(&corrected.employers)
            .bind(&corrected.people)
            .bind(&corrected.needs)
            .fetch_all(&mut *conn)
            .await?;
            immersions.extend(copied);
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
        self.people
            .save_then(conn, &count_changes("people"))
            .await?;
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
        self.readjustments
            .save_then(conn, &READJUSTMENTS_COUNTED)
            .await?;
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
            // A mistake fixed: the figures count the establishment under its
            // corrected sector and territory, its immersions included (their
            // copies of them), whenever they were proposed.
            EmployerEvent::EmployerCorrected(e) => {
                let c = &e.changes;
                if c.naf.is_none() && c.commune.is_none() {
                    return Ok(());
                }
                let employer_id = stream_uuid(event);
                let Some(employer) = self.employers.get_mut(employer_id) else {
                    return Ok(());
                };
                if let Some(naf) = &c.naf {
                    employer.naf = naf.as_str().to_owned();
                }
                if let Some(commune) = &c.commune {
                    let commune = commune.commune();
                    employer.departement = commune.map(|c| c.departement.to_owned());
                    employer.region = commune.map(|c| c.region.to_owned());
                }
                let (id, naf, departement, region) = (
                    employer.employer_id,
                    employer.naf.clone(),
                    employer.departement.clone(),
                    employer.region.clone(),
                );
                self.immersions.update_where(
                    |i| i.employer_id == id,
                    |i| {
                        i.naf = Some(naf.clone());
                        i.departement.clone_from(&departement);
                        i.region.clone_from(&region);
                    },
                );
            }
            // The visit counts on its corrected day in a period; when it was
            // recorded, which "as of" reads, does not change.
            EmployerEvent::EmployerVisitCorrected(e) => {
                if let Some(day) = e.changes.visited_on
                    && let Some(visit) = self.visits.get_mut(Some(e.visit_id.0))
                {
                    visit.visited_on = day;
                }
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
                // The source as the counts of `totals` name it
                // (`need_sources`): one tag for both.
                let source = tag(&e.source.kind());
                let visit = match e.source {
                    NeedSource::Visit { visit_id } => self.visits.get(Some(visit_id.0)),
                    NeedSource::Portal | NeedSource::Phone => None,
                };
                let row = NeedRow {
                    need_id: e.need_id.0,
                    employer_id: e.employer_id.0,
                    source,
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
            // The jobs of the description corrected: the immersions that
            // copied that description at their proposal count under the
            // corrected jobs (not those proposed on an earlier description
            // a qualification replaced since, which this does not correct).
            NeedEvent::NeedCorrected(e) => {
                let codes = rome(&e.description.rome_codes);
                let Some(need) = self.needs.get_mut(id) else {
                    return;
                };
                if need.rome_codes == codes {
                    return;
                }
                let was = std::mem::replace(&mut need.rome_codes, codes.clone());
                let need_id = need.need_id;
                self.immersions.update_where(
                    |i| i.need_id == Some(need_id) && i.rome_codes == was,
                    |i| i.rome_codes.clone_from(&codes),
                );
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
            // A birth date corrected gives the age band at enrolment anew:
            // the person and their immersions count in it.
            PersonEvent::IdentityCorrected(e) => {
                let (Some(band), Some(person_id)) = (&e.age_band, id) else {
                    return;
                };
                let band = tag(band);
                if let Some(person) = self.people.get_mut(id) {
                    person.age_band.clone_from(&band);
                }
                self.immersions.update_where(
                    |i| i.person_id == person_id,
                    |i| i.age_band = Some(band.clone()),
                );
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
