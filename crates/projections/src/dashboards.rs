//! `dashboards`: one row of facts per immersion (who, where, which sector,
//! which public) with the instant it reached each step of the funnel, and
//! every outcome recorded with its instant. Asynchronous, rebuildable.
//!
//! Each step keeps the first instant it was reached and outcomes are kept
//! as recorded, never overwritten: the figures "as of" a past date are the
//! rows and instants up to the end of that day, exact to the event, without
//! replaying the log.

use async_trait::async_trait;
use passerelle_domain::Personal;
use passerelle_domain::employer::EmployerEvent;
use passerelle_domain::immersion::{ImmersionEvent, Outcome, Respondent};
use passerelle_domain::need::NeedEvent;
use passerelle_domain::person::{ConsentPurpose, PersonEvent};
use passerelle_store::RecordedEvent;
use passerelle_store::projection::{Projection, ProjectionError};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::views::{in_category, of_category, purge_erased, stream_uuid, tag};

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
             age_band text not null,
             -- Health data, kept only while consent stands and until erasure.
             disability boolean
         );
         create table needs (
             need_id uuid primary key,
             rome_codes text[] not null
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
             global_position bigint not null,
             primary key (immersion_id, global_position)
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

fn decoded<E: serde::de::DeserializeOwned>(
    event: &RecordedEvent,
    category: &str,
) -> Result<E, ProjectionError> {
    let (_, decoded) = of_category::<E>(std::slice::from_ref(event), category)
        .next()
        .expect("the event is of the category")?;
    Ok(decoded)
}

async fn employer(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    if let EmployerEvent::EmployerRegistered(e) = decoded(event, "employer")? {
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
    Ok(())
}

async fn need(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let rome = |codes: &[passerelle_domain::values::RomeCode]| {
        codes
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    match decoded(event, "need")? {
        NeedEvent::NeedSurfaced(e) => {
            sqlx::query(
                "insert into needs (need_id, rome_codes) values ($1, $2)
                 on conflict (need_id) do nothing",
            )
            .bind(e.need_id.0)
            .bind(rome(&e.description.rome_codes))
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
    match decoded(event, "person")? {
        PersonEvent::PersonEnrolled(e) => {
            sqlx::query(
                "insert into people (person_id, age_band) values ($1, $2)
                 on conflict (person_id) do nothing",
            )
            .bind(e.person_id.0)
            .bind(tag(&e.age_band))
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
    match decoded(event, "immersion")? {
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
            .execute(conn)
            .await?;
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
                "insert into outcomes (immersion_id, milestone, outcome, contract, recorded_at,
                     global_position)
                 values ($1, $2, $3, $4, $5, $6) on conflict do nothing",
            )
            .bind(id)
            .bind(tag(&e.milestone))
            .bind(tag(&e.outcome))
            .bind(contract)
            .bind(at)
            .bind(event.position.global_position)
            .execute(&mut *conn)
            .await?;
            if matches!(e.outcome, Outcome::Hired { .. } | Outcome::Training) {
                set("update immersions set hired_or_trained_at = coalesce(hired_or_trained_at, $2) where immersion_id = $1")
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
    let required: Vec<String> = convention
        .required_signatories(&convention.period)
        .iter()
        .map(tag)
        .collect();
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

/// Appends ` and …` conditions for `filter` on the immersions aliased `i`.
fn restrict(q: &mut QueryBuilder<Postgres>, filter: &Filter) {
    if let Some(from) = filter.from {
        q.push(" and i.proposed_on >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        q.push(" and i.proposed_on <= ").push_bind(to);
    }
    let mut equal = |column: &str, value: Option<String>| {
        if let Some(value) = value {
            q.push(format_args!(" and i.{column} = ")).push_bind(value);
        }
    };
    equal("departement", filter.departement.clone());
    equal("region", filter.region.clone());
    equal("naf", filter.naf.clone());
    equal("objective", filter.objective.clone());
    equal("age_band", filter.age_band.clone());
    if let Some(structure) = filter.structure {
        q.push(" and i.structure = ").push_bind(structure);
    }
    if let Some(mediator) = filter.mediator {
        q.push(" and i.mediator = ").push_bind(mediator);
    }
    if let Some(rome) = &filter.rome {
        q.push(" and ")
            .push_bind(rome.clone())
            .push(" = any(i.rome_codes)");
    }
    if let Some(disability) = filter.disability {
        q.push(" and exists (select 1 from dashboards.people p where p.person_id = i.person_id and p.disability = ")
            .push_bind(disability)
            .push(")");
    }
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
) -> Result<Vec<FunnelStep>, sqlx::Error> {
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
            q.push(format_args!(
                ", percentile_cont(0.5) within group (order by extract(epoch from i.{column} - i.{previous}) / 86400)
                   filter (where i.{column} <= t.as_of)"
            ));
        } else {
            q.push(", null::float8");
        }
    }
    q.push(" from dashboards.immersions i, (select coalesce(")
        .push_bind(as_of)
        .push("::timestamptz, 'infinity') as as_of) t where i.proposed_at <= t.as_of");
    restrict(&mut q, filter);
    let row = q.build().fetch_one(db).await?;
    use sqlx::Row as _;
    FUNNEL_STEPS
        .iter()
        .enumerate()
        .map(|(n, (step, _))| {
            Ok(FunnelStep {
                step,
                count: row.try_get(2 * n)?,
                median_days: row.try_get(2 * n + 1)?,
            })
        })
        .collect()
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
/// outcome and contract: for each immersion and milestone, the last outcome
/// recorded by `as_of` (now when `None`).
pub async fn outcomes(
    db: impl PgExecutor<'_>,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
) -> Result<Vec<OutcomeCount>, sqlx::Error> {
    let mut q = QueryBuilder::<Postgres>::new(
        "select o.milestone, i.objective, o.outcome, o.contract, count(*) as count
         from dashboards.immersions i
         join lateral (
             select distinct on (x.milestone) x.milestone, x.outcome, x.contract
             from dashboards.outcomes x
             where x.immersion_id = i.immersion_id and x.recorded_at <= coalesce(",
    );
    q.push_bind(as_of).push(
        "::timestamptz, 'infinity')
             order by x.milestone, x.global_position desc
         ) o on true
         where true",
    );
    restrict(&mut q, filter);
    q.push(
        " group by o.milestone, i.objective, o.outcome, o.contract
          order by case o.milestone when 'end' then 0 when 'one_month' then 1
                                    when 'three_months' then 3 else 6 end,
                   i.objective, o.outcome, o.contract nulls first",
    );
    q.build_query_as().fetch_all(db).await
}
