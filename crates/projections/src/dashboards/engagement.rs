//! How employers take part.

use sqlx::{Postgres, QueryBuilder};
use time::OffsetDateTime;

use super::filter::{
    Columns, DashboardError, Filter, IMMERSION_COLUMNS, NEED_COLUMNS, VISIT_COLUMNS,
    employers_join, push_as_of, restrict,
};
use super::totals::{
    ANSWER_STEP, KEPT_WAITING, delays_at, everything, median_days_sql, reached, snapshot, totals,
    whole_medians,
};

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
