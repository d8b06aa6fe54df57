//! The funnel: how many immersions reached each step, and the median
//! delay from the step before.

use sqlx::{Postgres, QueryBuilder};
use time::OffsetDateTime;

use super::filter::{DashboardError, Filter, IMMERSION_COLUMNS, restrict};
use super::totals::{
    ANSWER_STEP, FUNNEL_STEPS, FunnelStepName, delay_steps, delays_at, everything, median_days_sql,
    reached, snapshot, totals, whole_medians,
};

/// One step of the funnel.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelStep {
    pub step: FunnelStepName,
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
                step: *step,
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
            step: *step,
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
