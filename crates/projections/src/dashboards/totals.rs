//! The steps and delays of the funnel, the counts kept in `totals` and
//! the delays in `delays` with each batch, and how the figures of
//! everything as it stands read them.

use sqlx::{PgConnection, Postgres, QueryBuilder};
use std::collections::HashMap;
use time::OffsetDateTime;

use passerelle_domain::fr::Labelled as _;
use passerelle_domain::need::NeedSource;

use super::filter::Filter;
use crate::views::tag;

/// A step of the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum FunnelStepName {
    Proposed,
    Accepted,
    Signed,
    Validated,
    Started,
    Completed,
    HiredOrTrained,
}

/// The steps of the funnel, in order, with the column of the instant each
/// was reached.
pub const FUNNEL_STEPS: [(FunnelStepName, &str); 7] = [
    (FunnelStepName::Proposed, "proposed_at"),
    (FunnelStepName::Accepted, "accepted_at"),
    (FunnelStepName::Signed, "signed_at"),
    (FunnelStepName::Validated, "validated_at"),
    (FunnelStepName::Started, "started_at"),
    (FunnelStepName::Completed, "completed_at"),
    (FunnelStepName::HiredOrTrained, "hired_or_trained_at"),
];

/// The step number of the employer's answer in `delays`.
pub(super) const ANSWER_STEP: i16 = 7;

/// The delays kept in `delays`: (step number, column of the instant, column
/// of the instant it runs from).
pub(super) fn delay_steps() -> impl Iterator<Item = (i16, &'static str, &'static str)> {
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
pub(super) fn median_days_sql(at: &str, since: &str) -> String {
    format!(
        "percentile_cont(0.5) within group (order by {}) filter (where i.{at} <= t.as_of) / 86400",
        seconds_between(&format!("i.{at}"), &format!("i.{since}"))
    )
}

/// Whether the figures are of every immersion as they stand, which the
/// totals kept beside the facts answer.
pub(super) fn everything(filter: &Filter, as_of: Option<OffsetDateTime>) -> bool {
    as_of.is_none() && *filter == Filter::default()
}

/// A proposal the employer had not answered, nor either party declined,
/// 7 days after it was made (of `dashboards.immersions i`): counted from
/// its seventh day on.
pub(super) const KEPT_WAITING: &str = "(i.employer_answered_at is null
                              or i.employer_answered_at > i.proposed_at + interval '7 days')
                             and (i.declined_at is null
                                  or i.declined_at > i.proposed_at + interval '7 days')";

/// The name in `totals` of the count of `table`'s rows where `column` is set.
pub(super) fn reached(table: &str, column: &str) -> String {
    format!("{table}.{column}")
}

/// How many counts of people by readjustments are kept: 0, 1, 2, then 3
/// or more, the figures' buckets.
pub(super) const READJUSTMENT_BUCKETS: i64 = 4;

/// The name in `totals` of the count of people with a project and `n`
/// readjustments (`n` or more for the last bucket).
pub(super) fn readjusted(n: i64) -> String {
    format!("people.readjusted.{n}")
}

/// The prefix, in `totals`, of the count of readjustments of people with a
/// project by cause (the cause's tag follows).
pub(super) const READJUSTMENT_CAUSE: &str = "readjustments.cause.";

/// Follows the readjustments inserted (`added`, see
/// [`Inserts::save_then`](crate::rows::Inserts::save_then)) in `totals`: each
/// person with a project moves from the bucket of the readjustments kept
/// before to that of the count with the new ones (every part of a
/// statement reads the same snapshot, so `readjustments` is read as it
/// was), and each new readjustment counts under its cause. Only people with
/// a project count, as in the filtered figures' join.
pub(super) static READJUSTMENTS_COUNTED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        let last = READJUSTMENT_BUCKETS - 1;
        format!(
            ", moved as (
                 select n.k as new_ones,
                        (select count(*) from readjustments r where r.person_id = n.person_id)
                            as before
                 from (select person_id, count(*) as k from added group by person_id) n
                      join people p using (person_id)
                 where p.project_at is not null)
             insert into totals (name, n)
             select name, sum(d) from (
                 select 'people.readjusted.' || least(before, {last}) as name, -1 as d from moved
                 union all
                 select 'people.readjusted.' || least(before + new_ones, {last}), 1 from moved
                 union all
                 select '{READJUSTMENT_CAUSE}' || a.cause, 1
                 from added a join people p using (person_id)
                 where p.project_at is not null) c
             group by name
             having sum(d) <> 0
             on conflict (name) do update set n = totals.n + excluded.n"
        )
    });

/// The columns of `needs` counted by source in `totals`: the instant each
/// need was surfaced (every need), became an immersion, an offer, a hire.
pub(super) const NEED_FATES: [&str; 4] = ["surfaced_at", "immersion_at", "offer_at", "hired_at"];

/// The sources of needs as `needs.source` keeps them, in their text order
/// (the order the filtered figures list them in).
pub(super) fn need_sources() -> Vec<String> {
    let mut sources: Vec<String> = NeedSource::ALL
        .iter()
        .map(|source| tag(&source.kind()))
        .collect();
    sources.sort();
    sources
}

/// The name in `totals` of the count of needs from `source` where `column`
/// (of [`NEED_FATES`]) is set.
pub(super) fn need_fate(source: &str, column: &str) -> String {
    format!("needs.{source}.{column}")
}

/// The name in `totals` of the count of rows of `delays` at `step`.
pub(super) fn delays_at(step: i16) -> String {
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
        // Every need, and those of each source by what became of them.
        "needs" => {
            let mut counters = set(&["surfaced_at"]);
            for source in need_sources() {
                counters.extend(NEED_FATES.map(|column| {
                    (
                        need_fate(&source, column),
                        format!("i.source = '{source}' and i.{column} is not null"),
                    )
                }));
            }
            counters
        }
        // People with a project, and each of them by how many
        // readjustments were kept for them so far (see
        // [`READJUSTMENTS_COUNTED`], which moves them on as readjustments
        // come: people are written before readjustments in a batch).
        "people" => {
            let mut counters = set(&["project_at"]);
            counters.extend((0..READJUSTMENT_BUCKETS).map(|n| {
                (
                    readjusted(n),
                    format!(
                        "i.project_at is not null and least((select count(*) from readjustments r
                         where r.person_id = i.person_id), {last}) = {n}",
                        last = READJUSTMENT_BUCKETS - 1
                    ),
                )
            }));
            counters
        }
        _ => unreachable!("no totals are kept for {table}"),
    }
}

/// Adds to `totals` the change the rows written make to the counts of
/// [`counters`]: how many of the rows as they are (`added`) meet each
/// condition, less how many of them did before (`old`). See
/// [`Rows::save_then`].
pub(super) fn count_changes(table: &str) -> String {
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
pub(super) async fn totals(
    conn: &mut PgConnection,
    names: &[String],
) -> Result<Vec<i64>, sqlx::Error> {
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

/// The seconds in an hour of `delay_hours`: a delay of `seconds` counts
/// in the hour `floor(seconds / 3600)`, and the delays of the hours before
/// hour `h` are exactly those under `h * 3600`: `h * 3600` is exact in
/// float8, and as 3600 is no power of two, a float8 under it divides to
/// less than `h` (by over half a unit in the last place), so never rounds
/// up to `h`.
const HOUR: f64 = 3600.0;

/// Adds the delays of the immersions `$1` newly complete, and counts each
/// in its hour.
pub(super) static DELAYS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let steps: Vec<String> = delay_steps()
        .map(|(step, at, since)| format!("({step}::int2, i.{at}, i.{since})"))
        .collect();
    format!(
        "with added as (
             insert into delays (immersion_id, step, seconds)
             select i.immersion_id, s.step, {}
             from unnest($1::uuid[]) k join immersions i on i.immersion_id = k
                  cross join lateral (values {}) s(step, at, since)
             where s.at is not null and s.since is not null
             on conflict do nothing
             returning step, seconds)
         insert into delay_hours (step, hour, n)
         select step, floor(seconds / {HOUR:.1})::int8, count(*) from added group by 1, 2
         on conflict (step, hour) do update set n = delay_hours.n + excluded.n",
        seconds_between("s.at", "s.since"),
        steps.join(", ")
    )
});

/// The median, in days, of every immersion's delay at each of `steps`
/// (step number, how many delays it has), read from `delays` at the middle
/// position: `percentile_cont(0.5)`, the middle value or the two middle
/// ones interpolated as PostgreSQL does. The hour holding the middle
/// position is found from the counts of `delay_hours` (as many rows as
/// hours delays last, whatever the log's size), then the delays are read
/// in order from that hour on, past those of its hour before the middle.
/// Only the delays of that one hour are walked, instead of every delay
/// before the middle: still in proportion to the log, but a small part of
/// it (a step's delays spread over hundreds of hours). `conn` must read in
/// the snapshot the counts were taken in.
pub(super) async fn whole_medians(
    conn: &mut PgConnection,
    steps: &[(i16, i64)],
) -> Result<Vec<Option<f64>>, sqlx::Error> {
    let mut q = QueryBuilder::<Postgres>::new("select ");
    let mut separated = q.separated(", ");
    for &(step, count) in steps {
        let middle = (count - 1).max(0) / 2;
        separated
            .push(
                "coalesce((select array(select d.seconds from dashboards.delays d where d.step = ",
            )
            .push_bind_unseparated(step)
            .push_unseparated(format_args!(
                " and d.seconds >= x.hour * {HOUR:.1} order by d.seconds offset "
            ))
            .push_bind_unseparated(middle)
            .push_unseparated(" - x.before limit ")
            .push_bind_unseparated(if count % 2 == 1 { 1i64 } else { 2 })
            .push_unseparated(
                ") from (select hour, before from (select hour, n,
                     (sum(n) over (order by hour) - n)::int8 as before
                     from dashboards.delay_hours where step = ",
            )
            .push_bind_unseparated(step)
            .push_unseparated(") h where before + n > ")
            .push_bind_unseparated(middle)
            .push_unseparated(" order by hour limit 1) x), '{}')");
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
pub(super) async fn snapshot(
    db: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
