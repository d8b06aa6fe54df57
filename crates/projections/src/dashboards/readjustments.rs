//! The projects' readjustments and their causes.

use passerelle_domain::person::CauseKind;
use sqlx::{Postgres, QueryBuilder};
use time::OffsetDateTime;

use super::filter::{Columns, DashboardError, Filter, push_as_of, restrict};
use super::totals::{
    READJUSTMENT_BUCKETS, READJUSTMENT_CAUSE, everything, reached, readjusted, snapshot, totals,
};
use crate::views::untag;

/// How many readjustments the projects needed, and what caused them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectReadjustments {
    /// People with a project stated.
    pub projects: i64,
    /// People by number of readjustments: 0, 1, 2, then 3 or more.
    pub by_iterations: [i64; 4],
    /// Readjustments by cause.
    pub by_cause: Vec<(CauseKind, i64)>,
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
    if everything(filter, as_of) {
        return whole_readjustments(db).await;
    }
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
        by_cause: by_cause
            .into_iter()
            .map(|(cause, n)| Ok((untag(&cause)?, n)))
            .collect::<Result<_, DashboardError>>()?,
    })
}

/// Every project's readjustments as they stand, from `totals`.
async fn whole_readjustments(db: &sqlx::PgPool) -> Result<ProjectReadjustments, DashboardError> {
    let mut tx = snapshot(db).await?;
    let mut names = vec![reached("people", "project_at")];
    names.extend((0..READJUSTMENT_BUCKETS).map(readjusted));
    let counts = totals(&mut tx, &names).await?;
    let by_cause: Vec<(String, i64)> = sqlx::query_as(
        "select substr(name, length($1) + 1), n from dashboards.totals
         where starts_with(name, $1) and n <> 0 order by name",
    )
    .bind(READJUSTMENT_CAUSE)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ProjectReadjustments {
        projects: counts[0],
        by_iterations: [counts[1], counts[2], counts[3], counts[4]],
        by_cause: by_cause
            .into_iter()
            .map(|(cause, n)| Ok((untag(&cause)?, n)))
            .collect::<Result<_, DashboardError>>()?,
    })
}
