//! Visits and needs, and what became of the needs.

use passerelle_domain::need::NeedSourceKind;
use sqlx::{Postgres, QueryBuilder};
use time::OffsetDateTime;

use super::filter::{
    DashboardError, Filter, NEED_COLUMNS, VISIT_COLUMNS, employers_join, push_as_of, restrict,
};
use super::totals::{NEED_FATES, everything, need_fate, need_sources, reached, totals};
use crate::views::untag;

/// Needs surfaced by one source, and what became of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsBySource {
    pub source: NeedSourceKind,
    pub needs: i64,
    pub became_immersion: i64,
    pub became_offer: i64,
    pub led_to_hire: i64,
}

/// A row as the table keeps it.
#[derive(sqlx::FromRow)]
struct Stored {
    source: String,
    needs: i64,
    became_immersion: i64,
    became_offer: i64,
    led_to_hire: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsConversion {
    pub visits: i64,
    pub by_source: Vec<NeedsBySource>,
}

/// Visits, the needs surfaced (per source) and how many became an
/// immersion, an offer and a hire: the proof that upstream work pays.
pub async fn needs_conversion(
    db: &sqlx::PgPool,
    filter: &Filter,
    as_of: Option<OffsetDateTime>,
) -> Result<NeedsConversion, DashboardError> {
    if everything(filter, as_of) {
        return whole_needs_conversion(db).await;
    }
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
    // Byte order, as `need_sources` lists them for the figures of everything.
    q.push(" group by n.source order by n.source collate \"C\"");
    // Two scans of their own: run side by side on the pool.
    let (visits, rows): (i64, Vec<Stored>) = futures::future::try_join(
        visits.build_query_scalar().fetch_one(db),
        q.build_query_as().fetch_all(db),
    )
    .await?;
    let by_source = rows
        .into_iter()
        .map(|r| {
            Ok(NeedsBySource {
                source: untag(&r.source)?,
                needs: r.needs,
                became_immersion: r.became_immersion,
                became_offer: r.became_offer,
                led_to_hire: r.led_to_hire,
            })
        })
        .collect::<Result<_, DashboardError>>()?;
    Ok(NeedsConversion { visits, by_source })
}

/// The figures of every visit and need as they stand, from the counts kept
/// in `totals`: as the query above gives them, a row per source with at
/// least one need, in the sources' text order.
async fn whole_needs_conversion(db: &sqlx::PgPool) -> Result<NeedsConversion, DashboardError> {
    let sources = need_sources();
    let names: Vec<String> = std::iter::once(reached("visits", "recorded_at"))
        .chain(
            sources
                .iter()
                .flat_map(|source| NEED_FATES.map(|column| need_fate(source, column))),
        )
        .collect();
    // One statement reads them all in one snapshot.
    let counts = totals(&mut *db.acquire().await?, &names).await?;
    let by_source = sources
        .iter()
        .zip(counts[1..].chunks(NEED_FATES.len()))
        .filter(|(_, n)| n[0] > 0)
        .map(|(source, n)| {
            Ok(NeedsBySource {
                source: untag(source)?,
                needs: n[0],
                became_immersion: n[1],
                became_offer: n[2],
                led_to_hire: n[3],
            })
        })
        .collect::<Result<_, DashboardError>>()?;
    Ok(NeedsConversion {
        visits: counts[0],
        by_source,
    })
}
