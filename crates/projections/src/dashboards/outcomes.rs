//! The outcomes at each milestone.

use sqlx::{PgExecutor, Postgres, QueryBuilder};
use time::OffsetDateTime;

use super::filter::{DashboardError, Filter, IMMERSION_COLUMNS, restrict};
use super::totals::everything;

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
