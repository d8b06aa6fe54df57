//! The outcomes at each milestone.

use passerelle_domain::immersion::{Milestone, Objective, OutcomeKind};
use passerelle_domain::values::ContractType;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use time::OffsetDateTime;

use super::filter::{DashboardError, Filter, IMMERSION_COLUMNS, restrict};
use super::totals::everything;
use crate::views::untag;

/// How many immersions stood at each outcome at a milestone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCount {
    pub milestone: Milestone,
    pub objective: Objective,
    pub outcome: OutcomeKind,
    /// For a hire, the contract.
    pub contract: Option<ContractType>,
    pub count: i64,
}

/// A row as the tables keep it.
#[derive(sqlx::FromRow)]
struct Stored {
    milestone: String,
    objective: String,
    outcome: String,
    contract: Option<String>,
    count: i64,
}

fn decoded(rows: Vec<Stored>) -> Result<Vec<OutcomeCount>, DashboardError> {
    rows.into_iter()
        .map(|r| {
            Ok(OutcomeCount {
                milestone: untag(&r.milestone)?,
                objective: untag(&r.objective)?,
                outcome: untag(&r.outcome)?,
                contract: r.contract.as_deref().map(untag).transpose()?,
                count: r.count,
            })
        })
        .collect()
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
        return decoded(
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "select milestone, objective, outcome, nullif(contract, '') as contract, count
                 from dashboards.outcome_totals {order}"
            )))
            .fetch_all(db)
            .await?,
        );
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
    decoded(q.build_query_as().fetch_all(db).await?)
}
