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

use async_trait::async_trait;
use passerelle_domain::Personal;
use passerelle_domain::employer::EmployerEvent;
use passerelle_domain::immersion::{ImmersionEvent, Outcome, Respondent};
use passerelle_domain::need::{NeedEvent, NeedSource};
use passerelle_domain::person::{ConsentPurpose, PersonEvent};
use passerelle_store::RecordedEvent;
use passerelle_store::projection::{Projection, ProjectionError};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::views::{
    decode_one, in_category, purge_erased, required_signatories, staff_actor, stream_uuid, tag,
};

#[derive(Debug, Clone, Copy)]
pub struct Dashboards;

#[async_trait]
impl Projection for Dashboards {
    fn name(&self) -> &'static str {
        "dashboards"
    }

    fn schema_sql(&self) -> &'static str {
        "create table employers (
             employer_id uuid primary key,
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
         create table immersions (
             immersion_id uuid primary key,
             structure uuid not null,
             mediator uuid not null,
             person_id uuid not null,
             employer_id uuid not null,
             need_id uuid,
             objective text not null,
             proposed_on date not null,
             naf text,
             departement text,
             region text,
             rome_codes text[] not null default '{}',
             age_band text,
             proposed_at timestamptz not null,
             person_accepted_at timestamptz,
             employer_accepted_at timestamptz,
             -- The employer's answer to the proposal, either way.
             employer_answered_at timestamptz,
             -- Declined by either party.
             declined_at timestamptz,
             accepted_at timestamptz,
             required_signatories text[] not null default '{}',
             signatures text[] not null default '{}',
             signed_at timestamptz,
             validated_at timestamptz,
             started_at timestamptz,
             completed_at timestamptz,
             hired_or_trained_at timestamptz
         );
         create index immersions_proposed_on on immersions (proposed_on);
         create table outcomes (
             immersion_id uuid not null,
             milestone text not null,
             outcome text not null,
             contract text,
             recorded_at timestamptz not null,
             -- The domain records each milestone once.
             primary key (immersion_id, milestone)
         );"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            if in_category(event, "employer") {
                employer(conn, event).await?;
            } else if in_category(event, "need") {
                need(conn, event).await?;
            } else if in_category(event, "person") {
                person(conn, event).await?;
            } else if in_category(event, "immersion") {
                immersion(conn, event).await?;
            }
        }
        purge_erased(
            conn,
            events,
            "update people set disability = null where person_id = $1",
        )
        .await
    }
}

async fn employer(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    match decode_one(event, "employer")? {
        EmployerEvent::EmployerRegistered(e) => {
            let commune = e.commune.commune();
            sqlx::query(
                "insert into employers (employer_id, naf, departement, region) values ($1, $2, $3, $4)
                 on conflict (employer_id) do nothing",
            )
            .bind(e.employer_id.0)
            .bind(e.naf.as_str())
            .bind(commune.map(|c| c.departement))
            .bind(commune.map(|c| c.region))
            .execute(conn)
            .await?;
        }
        EmployerEvent::EmployerVisitLogged(e) => {
            sqlx::query(
                "insert into visits (visit_id, employer_id, structure, mediator, visited_on, recorded_at)
                 values ($1, $2, $3, $4, $5, $6) on conflict (visit_id) do nothing",
            )
            .bind(e.visit_id.0)
            .bind(stream_uuid(event))
            .bind(e.structure.0)
            .bind(e.mediator.0)
            .bind(e.visited_on)
            .bind(event.recorded_at)
            .execute(conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn need(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let rome = |codes: &[passerelle_domain::values::RomeCode]| {
        codes
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    match decode_one(event, "need")? {
        NeedEvent::NeedSurfaced(e) => {
            // A need surfaced on a visit belongs to the visit's structure
            // and mediator; otherwise to whoever recorded it.
            let (source, visit) = match e.source {
                NeedSource::Visit { visit_id } => ("visit", Some(visit_id.0)),
                NeedSource::Portal => ("portal", None),
                NeedSource::Phone => ("phone", None),
            };
            sqlx::query(
                "insert into needs (need_id, employer_id, source, structure, mediator, surfaced_on,
                     surfaced_at, rome_codes)
                 select $1, $2, $3, coalesce(v.structure, $5), coalesce(v.mediator, $6), $7, $8, $9
                 from (select 1) one left join visits v on v.visit_id = $4
                 on conflict (need_id) do nothing",
            )
            .bind(e.need_id.0)
            .bind(e.employer_id.0)
            .bind(source)
            .bind(visit)
            .bind(event.tenant)
            .bind(staff_actor(event))
            .bind(e.surfaced_on)
            .bind(event.recorded_at)
            .bind(rome(&e.description.rome_codes))
            .execute(conn)
            .await?;
        }
        NeedEvent::NeedFormalisedAsOffer(_) => {
            sqlx::query("update needs set offer_at = coalesce(offer_at, $2) where need_id = $1")
                .bind(stream_uuid(event))
                .bind(event.recorded_at)
                .execute(conn)
                .await?;
        }
        NeedEvent::NeedQualified(e) => {
            sqlx::query("update needs set rome_codes = $2 where need_id = $1")
                .bind(stream_uuid(event))
                .bind(rome(&e.description.rome_codes))
                .execute(conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn person(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let id = stream_uuid(event);
    match decode_one(event, "person")? {
        PersonEvent::PersonEnrolled(e) => {
            let commune = e.commune.as_ref().and_then(|c| c.commune());
            sqlx::query(
                "insert into people (person_id, structure, referent, enrolled_on, departement,
                     region, age_band)
                 values ($1, $2, $3, $4, $5, $6, $7) on conflict (person_id) do nothing",
            )
            .bind(e.person_id.0)
            .bind(e.structure.0)
            .bind(e.referent.0)
            .bind(e.enrolled_on)
            .bind(commune.map(|c| c.departement))
            .bind(commune.map(|c| c.region))
            .bind(tag(&e.age_band))
            .execute(conn)
            .await?;
        }
        PersonEvent::ReferentChanged(e) => {
            sqlx::query("update people set referent = $2 where person_id = $1")
                .bind(id)
                .bind(e.referent.0)
                .execute(conn)
                .await?;
        }
        PersonEvent::ProjectStated(_) => {
            sqlx::query(
                "update people set project_at = coalesce(project_at, $2) where person_id = $1",
            )
            .bind(id)
            .bind(event.recorded_at)
            .execute(conn)
            .await?;
        }
        PersonEvent::ProjectReadjusted(e) => {
            sqlx::query(
                "insert into readjustments (person_id, cause, recorded_at, global_position)
                 values ($1, $2, $3, $4) on conflict do nothing",
            )
            .bind(id)
            .bind(tag(&e.cause))
            .bind(event.recorded_at)
            .bind(event.position.global_position)
            .execute(conn)
            .await?;
        }
        PersonEvent::DisabilityRecognitionRecorded(e) => {
            let recognised = match e.recognised {
                Personal::Known(recognised) => Some(recognised),
                Personal::Erased => None,
            };
            sqlx::query("update people set disability = $2 where person_id = $1")
                .bind(id)
                .bind(recognised)
                .execute(conn)
                .await?;
        }
        PersonEvent::ConsentWithdrawn(e) if e.purpose == ConsentPurpose::DisabilityRecognition => {
            sqlx::query("update people set disability = null where person_id = $1")
                .bind(id)
                .execute(conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn immersion(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let id = stream_uuid(event);
    let at = event.recorded_at;
    let set = |sql: &'static str| sqlx::query(sql).bind(id).bind(at);
    match decode_one(event, "immersion")? {
        ImmersionEvent::ImmersionProposed(e) => {
            // The sector, territory and public are copied at the proposal:
            // the figures filter on one table.
            sqlx::query(
                "insert into immersions (immersion_id, structure, mediator, person_id, employer_id,
                     need_id, objective, proposed_on, proposed_at, naf, departement, region,
                     rome_codes, age_band)
                 select $1, $2, $3, $4, $5, $6, $7, $8, $9, e.naf, e.departement, e.region,
                        coalesce(n.rome_codes, '{}'), p.age_band
                 from (select 1) one
                 left join employers e on e.employer_id = $5
                 left join needs n on n.need_id = $6
                 left join people p on p.person_id = $4
                 on conflict (immersion_id) do nothing",
            )
            .bind(e.immersion_id.0)
            .bind(e.structure.0)
            .bind(e.mediator.0)
            .bind(e.person_id.0)
            .bind(e.employer_id.0)
            .bind(e.need_id.map(|n| n.0))
            .bind(tag(&e.objective))
            .bind(e.proposed_on)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            if let Some(need) = e.need_id {
                sqlx::query(
                    "update needs set immersion_at = coalesce(immersion_at, $2) where need_id = $1",
                )
                .bind(need.0)
                .bind(at)
                .execute(conn)
                .await?;
            }
        }
        ImmersionEvent::ProposalDeclined(e) => {
            let sql = match e.by {
                Respondent::Employer => {
                    "update immersions set declined_at = coalesce(declined_at, $2),
                         employer_answered_at = coalesce(employer_answered_at, $2)
                     where immersion_id = $1"
                }
                Respondent::Person => {
                    "update immersions set declined_at = coalesce(declined_at, $2) where immersion_id = $1"
                }
            };
            set(sql).execute(conn).await?;
        }
        ImmersionEvent::ProposalAcceptedByPerson(_) => {
            accepted(conn, id, at, Respondent::Person).await?;
        }
        ImmersionEvent::ProposalAcceptedByEmployer(_) => {
            accepted(conn, id, at, Respondent::Employer).await?;
        }
        ImmersionEvent::ConventionDrafted(e) => {
            signatories(conn, id, &e.convention).await?;
        }
        ImmersionEvent::ConventionModified(e) => {
            signatories(conn, id, &e.convention).await?;
        }
        ImmersionEvent::ConventionSigned(e) if !e.renewal => {
            sqlx::query(
                "update immersions set signatures = array_append(signatures, $3),
                     signed_at = coalesce(signed_at, case
                         when array_append(signatures, $3) @> required_signatories then $2 end)
                 where immersion_id = $1",
            )
            .bind(id)
            .bind(at)
            .bind(tag(&e.signatory))
            .execute(conn)
            .await?;
        }
        ImmersionEvent::ConventionValidated(e) if !e.renewal => {
            set("update immersions set validated_at = coalesce(validated_at, $2) where immersion_id = $1")
                .execute(conn)
                .await?;
        }
        ImmersionEvent::ImmersionStarted(_) => {
            set("update immersions set started_at = coalesce(started_at, $2) where immersion_id = $1")
                .execute(conn)
                .await?;
        }
        ImmersionEvent::ImmersionCompleted(_) => {
            set("update immersions set completed_at = coalesce(completed_at, $2) where immersion_id = $1")
                .execute(conn)
                .await?;
        }
        ImmersionEvent::OutcomeRecorded(e) => {
            let contract = match &e.outcome {
                Outcome::Hired { contract } => Some(tag(contract)),
                _ => None,
            };
            sqlx::query(
                "insert into outcomes (immersion_id, milestone, outcome, contract, recorded_at)
                 values ($1, $2, $3, $4, $5) on conflict do nothing",
            )
            .bind(id)
            .bind(tag(&e.milestone))
            .bind(tag(&e.outcome))
            .bind(contract)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            if matches!(e.outcome, Outcome::Hired { .. } | Outcome::Training) {
                set("update immersions set hired_or_trained_at = coalesce(hired_or_trained_at, $2) where immersion_id = $1")
                    .execute(&mut *conn)
                    .await?;
            }
            if matches!(e.outcome, Outcome::Hired { .. }) {
                set("update needs set hired_at = coalesce(hired_at, $2)
                     where need_id = (select need_id from immersions where immersion_id = $1)")
                .execute(conn)
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

async fn accepted(
    conn: &mut PgConnection,
    id: Option<Uuid>,
    at: OffsetDateTime,
    by: Respondent,
) -> Result<(), sqlx::Error> {
    let sql = match by {
        Respondent::Person => {
            "update immersions set person_accepted_at = coalesce(person_accepted_at, $2),
                 accepted_at = coalesce(accepted_at, case when employer_accepted_at is not null then $2 end)
             where immersion_id = $1"
        }
        Respondent::Employer => {
            "update immersions set employer_accepted_at = coalesce(employer_accepted_at, $2),
                 employer_answered_at = coalesce(employer_answered_at, $2),
                 accepted_at = coalesce(accepted_at, case when person_accepted_at is not null then $2 end)
             where immersion_id = $1"
        }
    };
    sqlx::query(sql).bind(id).bind(at).execute(conn).await?;
    Ok(())
}

/// A drafted or modified convention: who must sign it now; signatures given
/// before a modification no longer count.
async fn signatories(
    conn: &mut PgConnection,
    id: Option<Uuid>,
    convention: &passerelle_domain::immersion::Convention,
) -> Result<(), sqlx::Error> {
    let required = required_signatories(convention);
    sqlx::query(
        "update immersions set required_signatories = $2, signatures = '{}' where immersion_id = $1",
    )
    .bind(id)
    .bind(&required)
    .execute(conn)
    .await?;
    Ok(())
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
    day: &'static str,
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
    day: "i.proposed_on",
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
        q.push(format_args!(" and {} >= ", columns.day))
            .push_bind(from);
    }
    if let Some(to) = filter.to {
        q.push(format_args!(" and {} <= ", columns.day))
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
    db: impl PgExecutor<'_>,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
) -> Result<Vec<FunnelStep>, DashboardError> {
    let mut q = QueryBuilder::<Postgres>::new("select ");
    for (n, (_, column)) in FUNNEL_STEPS.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        q.push(format_args!(
            "count(*) filter (where i.{column} <= t.as_of)"
        ));
        if n > 0 {
            let previous = FUNNEL_STEPS[n - 1].1;
            // On intervals: sorting them costs less than computing and
            // sorting seconds (83 against 123 ms for 77,000 immersions).
            q.push(format_args!(
                ", percentile_cont(0.5) within group (order by i.{column} - i.{previous})
                   filter (where i.{column} <= t.as_of)"
            ));
        } else {
            q.push(", null::interval");
        }
    }
    q.push(" from dashboards.immersions i, (select coalesce(")
        .push_bind(as_of)
        .push("::timestamptz, 'infinity') as as_of) t where i.proposed_at <= t.as_of");
    restrict(&mut q, filter, &IMMERSION_COLUMNS)?;
    let row = q.build().fetch_one(db).await?;
    use sqlx::Row as _;
    let steps: Result<Vec<FunnelStep>, sqlx::Error> = FUNNEL_STEPS
        .iter()
        .enumerate()
        .map(|(n, (step, _))| {
            let median: Option<sqlx::postgres::types::PgInterval> = row.try_get(2 * n + 1)?;
            Ok(FunnelStep {
                step,
                count: row.try_get(2 * n)?,
                median_days: median.map(|m| {
                    // A difference of instants has no months: days and time.
                    f64::from(m.months) * 30.0
                        + f64::from(m.days)
                        + m.microseconds as f64 / 86_400_000_000.0
                }),
            })
        })
        .collect();
    Ok(steps?)
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
    q.push(
        " group by o.milestone, i.objective, o.outcome, o.contract
          order by case o.milestone when 'end' then 0 when 'one_month' then 1
                                    when 'three_months' then 3 else 6 end,
                   i.objective, o.outcome, o.contract nulls first",
    );
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
    day: "v.visited_on",
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
    day: "n.surfaced_on",
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

/// Visits, the needs surfaced (per source) and how many became an
/// immersion, an offer and a hire: the proof that upstream work pays.
pub async fn needs_conversion(
    db: &sqlx::PgPool,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
) -> Result<NeedsConversion, DashboardError> {
    let mut q = QueryBuilder::<Postgres>::new(
        "select count(*) from dashboards.visits v join dashboards.employers e using (employer_id)
         where v.recorded_at <= ",
    );
    push_as_of(&mut q, as_of);
    restrict(&mut q, filter, &VISIT_COLUMNS)?;
    let visits: i64 = q.build_query_scalar().fetch_one(db).await?;

    let mut q = QueryBuilder::<Postgres>::new("with t as (select ");
    push_as_of(&mut q, as_of);
    q.push(
        " as as_of)
         select n.source, count(*) as needs,
                count(*) filter (where n.immersion_at <= t.as_of) as became_immersion,
                count(*) filter (where n.offer_at <= t.as_of) as became_offer,
                count(*) filter (where n.hired_at <= t.as_of) as led_to_hire
         from t, dashboards.needs n join dashboards.employers e using (employer_id)
         where n.surfaced_at <= t.as_of",
    );
    restrict(&mut q, filter, &NEED_COLUMNS)?;
    q.push(" group by n.source order by n.source");
    let by_source = q.build_query_as().fetch_all(db).await?;
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
    day: "p.enrolled_on",
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
    let mut q = QueryBuilder::<Postgres>::new("with t as (select ");
    push_as_of(&mut q, as_of);
    q.push(
        " as as_of), counted as (
             select p.person_id, count(r.person_id) as n
             from t cross join dashboards.people p
                  left join dashboards.readjustments r
                         on r.person_id = p.person_id and r.recorded_at <= t.as_of
             where p.project_at <= t.as_of",
    );
    restrict(&mut q, filter, &PEOPLE_COLUMNS)?;
    q.push(
        " group by p.person_id)
         select count(*),
                count(*) filter (where n = 0), count(*) filter (where n = 1),
                count(*) filter (where n = 2), count(*) filter (where n >= 3),
                coalesce((select json_agg(json_build_array(cause, k) order by cause)
                          from (select r.cause, count(*) as k
                                from counted c join dashboards.readjustments r using (person_id), t
                                where r.recorded_at <= t.as_of group by r.cause) x), '[]')::text
         from counted",
    );
    let (projects, none, one, two, more, causes): (i64, i64, i64, i64, i64, String) =
        q.build_query_as().fetch_one(db).await?;
    let by_cause: Vec<(String, i64)> =
        serde_json::from_str(&causes).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
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

/// As of `as_of`: "waiting for over seven days" needs a present instant.
pub async fn employer_engagement(
    db: &sqlx::PgPool,
    filter: &Filter,
    as_of: OffsetDateTime,
) -> Result<EmployerEngagement, DashboardError> {
    let as_of = Some(as_of);
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
    let mut q = QueryBuilder::<Postgres>::new(
        "select count(distinct v.employer_id), count(*)
         from dashboards.visits v join dashboards.employers e using (employer_id)
         where v.recorded_at <= ",
    );
    push_as_of(&mut q, as_of);
    restrict(&mut q, filter, &VISIT_COLUMNS)?;
    let mut visits_query = q;

    let mut q = QueryBuilder::<Postgres>::new(
        "select count(distinct n.employer_id), count(*)
         from dashboards.needs n join dashboards.employers e using (employer_id)
         where n.surfaced_at <= ",
    );
    push_as_of(&mut q, as_of);
    restrict(&mut q, filter, &NEED_COLUMNS)?;
    let mut needs_query = q;

    let mut q = QueryBuilder::<Postgres>::new("with t as (select ");
    push_as_of(&mut q, as_of);
    q.push(
        " as as_of)
         select count(distinct i.employer_id) filter (where i.started_at <= t.as_of),
                count(*) filter (where i.started_at <= t.as_of),
                count(*),
                count(*) filter (where i.employer_answered_at <= t.as_of),
                percentile_cont(0.5) within group (
                    order by extract(epoch from i.employer_answered_at - i.proposed_at) / 86400)
                    filter (where i.employer_answered_at <= t.as_of),
                count(*) filter (where i.proposed_at <= t.as_of - interval '7 days'
                                   and (i.employer_answered_at is null
                                        or i.employer_answered_at > i.proposed_at + interval '7 days')
                                   and (i.declined_at is null
                                        or i.declined_at > i.proposed_at + interval '7 days'))
         from t, dashboards.immersions i
         where i.proposed_at <= t.as_of",
    );
    restrict(&mut q, filter, &IMMERSION_COLUMNS)?;
    type Proposals = (i64, i64, i64, i64, Option<f64>, i64);
    // Three scans of their own: run side by side on the pool.
    let (
        (employers_visited, visits),
        (employers_with_needs, needs),
        (employers_hosting, immersions_hosted, proposals, proposals_answered, median, waiting),
    ): ((i64, i64), (i64, i64), Proposals) = futures::future::try_join3(
        visits_query.build_query_as().fetch_one(db),
        needs_query.build_query_as().fetch_one(db),
        q.build_query_as().fetch_one(db),
    )
    .await?;
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
