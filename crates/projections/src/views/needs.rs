//! `needs`: every emerging need, with where it was heard and where it stands.

use async_trait::async_trait;
use passerelle_domain::need::{
    HiringIntent, Horizon, NeedDescription, NeedEvent, NeedSource, NeedSourceKind, NeedStatus,
    NeedSurfaced,
};
use passerelle_domain::values::{EmployerId, NeedId};
use passerelle_store::projection::{Mode, Projection, ProjectionError};
use passerelle_store::{InlineWrite, RecordedEvent};
use sqlx::{PgConnection, PgExecutor};

use super::{UnknownTag, of_category, stream_uuid, tag, untag};
use crate::rows::{Rows, keyed};

#[derive(Debug, Clone, Copy)]
pub struct Needs;

#[async_trait]
impl Projection for Needs {
    fn name(&self) -> &'static str {
        "needs"
    }

    fn mode(&self) -> Mode {
        Mode::Inline
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        super::in_category(event, "need")
    }

    fn schema_sql(&self) -> &'static str {
        "create table needs (
             need_id uuid primary key,
             employer_id uuid not null,
             structure uuid not null,
             source text not null,
             visit_id uuid,
             activities text not null,
             rome_codes text[] not null,
             conditions text,
             headcount int not null,
             horizon text not null,
             hiring_intent text not null,
             qualified boolean not null default false,
             status text not null default 'open',
             surfaced_on date not null,
             closed_on date,
             close_reason text,
             offer_reference text
         );
         create index needs_employer on needs (employer_id);
         create index needs_open on needs (surfaced_on desc, need_id desc) where status = 'open';
         create index needs_rome on needs using gin (rome_codes);"
    }

    /// The batch's needs are read once, changed in memory and written back
    /// in one statement ([`Rows`]): a rebuild pays no round trip per event.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let events: Vec<(&RecordedEvent, NeedEvent)> =
            of_category(events, "need").collect::<Result<_, _>>()?;
        let mut needs = Rows::<NeedRow>::load(
            conn,
            events.iter().filter_map(|(recorded, event)| match event {
                NeedEvent::NeedSurfaced(e) => Some(e.need_id.0),
                _ => stream_uuid(recorded),
            }),
        )
        .await?;
        for (recorded, event) in events {
            let id = stream_uuid(recorded);
            match event {
                NeedEvent::NeedSurfaced(e) => needs.insert(surfaced(recorded, &e)),
                NeedEvent::NeedQualified(e) => {
                    if let Some(need) = needs.get_mut(id) {
                        need.describe(&e.description);
                        need.qualified = true;
                    }
                }
                NeedEvent::NeedCorrected(e) => {
                    if let Some(need) = needs.get_mut(id) {
                        need.describe(&e.description);
                    }
                }
                NeedEvent::NeedFormalisedAsOffer(e) => {
                    if let Some(need) = needs.get_mut(id) {
                        need.status = tag(&NeedStatus::FormalisedAsOffer);
                        need.offer_reference =
                            e.offer_reference.as_ref().map(|r| r.as_str().to_owned());
                    }
                }
                NeedEvent::NeedClosed(e) => {
                    if let Some(need) = needs.get_mut(id) {
                        need.status = tag(&NeedStatus::Closed);
                        need.closed_on = Some(e.closed_on);
                        need.close_reason = Some(tag(&e.reason));
                    }
                }
            }
        }
        needs.save(conn).await?;
        Ok(())
    }

    /// Each need event is one insert or one update that reads nothing
    /// first: a command with one need event, of any kind, writes it in its
    /// append's statement, as `apply` would (the same values), and gets the
    /// need's row back for its answer. Several in one command (the same row twice
    /// in one statement) or an event written otherwise go through `apply`.
    ///
    /// An update joins its one row as one record (`json_populate_record`):
    /// the planner counts a set of rows from JSON as a hundred, and joined
    /// with a hundred rows a table of a few thousand needs is cheaper to scan
    /// whole than to probe by key, so every qualification read them all.
    fn inline_writes(&self, events: &[RecordedEvent]) -> Option<Vec<InlineWrite>> {
        let mut ours = events.iter().filter(|e| super::in_category(e, "need"));
        let (Some(recorded), None) = (ours.next(), ours.next()) else {
            return None;
        };
        let id = stream_uuid(recorded)?;
        let (sql, row) = match recorded.decode::<NeedEvent>().ok()? {
            NeedEvent::NeedSurfaced(e) => (
                "insert into {schema}.needs (need_id, employer_id, structure, source, visit_id,
                     activities, rome_codes, conditions, headcount, horizon, hiring_intent,
                     surfaced_on)
                 select need_id, employer_id, structure, source, visit_id, activities,
                        rome_codes, conditions, headcount, horizon, hiring_intent, surfaced_on
                 from json_populate_recordset(null::{schema}.needs, {rows})
                 where {appended}
                 returning *",
                serde_json::to_value(surfaced(recorded, &e)).ok()?,
            ),
            NeedEvent::NeedQualified(e) => (
                "update {schema}.needs n set activities = v.activities,
                     rome_codes = v.rome_codes, conditions = v.conditions,
                     headcount = v.headcount, horizon = v.horizon,
                     hiring_intent = v.hiring_intent, qualified = true
                 from json_populate_record(null::{schema}.needs, {rows} -> 0) v
                 where n.need_id = v.need_id and {appended}
                 returning n.*",
                described(id, &e.description),
            ),
            NeedEvent::NeedCorrected(e) => (
                "update {schema}.needs n set activities = v.activities,
                     rome_codes = v.rome_codes, conditions = v.conditions,
                     headcount = v.headcount, horizon = v.horizon,
                     hiring_intent = v.hiring_intent
                 from json_populate_record(null::{schema}.needs, {rows} -> 0) v
                 where n.need_id = v.need_id and {appended}
                 returning n.*",
                described(id, &e.description),
            ),
            NeedEvent::NeedFormalisedAsOffer(e) => (
                "update {schema}.needs n set status = 'formalised_as_offer',
                     offer_reference = v.offer_reference
                 from json_populate_record(null::{schema}.needs, {rows} -> 0) v
                 where n.need_id = v.need_id and {appended}
                 returning n.*",
                serde_json::json!({
                    "need_id": id,
                    "offer_reference": e.offer_reference.as_ref().map(|r| r.as_str()),
                }),
            ),
            NeedEvent::NeedClosed(e) => (
                "update {schema}.needs n set status = 'closed', closed_on = v.closed_on,
                     close_reason = v.close_reason
                 from json_populate_record(null::{schema}.needs, {rows} -> 0) v
                 where n.need_id = v.need_id and {appended}
                 returning n.*",
                serde_json::json!({
                    "need_id": id,
                    "closed_on": e.closed_on,
                    "close_reason": tag(&e.reason),
                }),
            ),
        };
        Some(vec![InlineWrite {
            sql,
            rows: serde_json::Value::Array(vec![row]).to_string(),
            returning: true,
        }])
    }
}

/// The need's row as the command's own statement left it, when it wrote
/// the view there ([`Projection::inline_writes`]).
pub fn written(written: &[(&'static str, serde_json::Value)], need: NeedId) -> Option<NeedRow> {
    written
        .iter()
        .filter(|(projection, _)| *projection == "needs")
        .filter_map(|(_, rows)| rows.as_array())
        .flatten()
        .filter_map(|row| serde_json::from_value::<NeedRow>(row.clone()).ok())
        .find(|row| row.need_id == need.0)
}

/// A need's row as its surfacing makes it, which `apply` adds and a
/// command's own statement inserts.
fn surfaced(recorded: &RecordedEvent, e: &NeedSurfaced) -> NeedRow {
    let visit_id = match e.source {
        NeedSource::Visit { visit_id } => Some(visit_id.0),
        _ => None,
    };
    let d = &e.description;
    NeedRow {
        need_id: e.need_id.0,
        employer_id: e.employer_id.0,
        structure: recorded.tenant,
        source: tag(&e.source),
        visit_id,
        activities: d.activities.as_str().to_owned(),
        rome_codes: codes(d),
        conditions: d.conditions.as_ref().map(|c| c.as_str().to_owned()),
        headcount: i32::from(d.headcount),
        horizon: tag(&d.horizon),
        hiring_intent: tag(&d.hiring_intent),
        qualified: false,
        status: tag(&NeedStatus::Open),
        surfaced_on: e.surfaced_on,
        closed_on: None,
        close_reason: None,
        offer_reference: None,
    }
}

/// The values of a description an inline update sets, with the need's id.
fn described(id: uuid::Uuid, d: &NeedDescription) -> serde_json::Value {
    serde_json::json!({
        "need_id": id,
        "activities": d.activities.as_str(),
        "rome_codes": codes(d),
        "conditions": d.conditions.as_ref().map(|c| c.as_str()),
        "headcount": i32::from(d.headcount),
        "horizon": tag(&d.horizon),
        "hiring_intent": tag(&d.hiring_intent),
    })
}

fn codes(d: &NeedDescription) -> Vec<String> {
    d.rome_codes.iter().map(|c| c.as_str().to_owned()).collect()
}

/// The employer of a need that is still open, if it is.
pub async fn open_need_employer(
    db: impl PgExecutor<'_>,
    need: NeedId,
) -> Result<Option<EmployerId>, sqlx::Error> {
    let id: Option<uuid::Uuid> = sqlx::query_scalar(
        "select employer_id from needs.needs where need_id = $1 and status <> 'closed'",
    )
    .bind(need.0)
    .fetch_optional(db)
    .await?;
    Ok(id.map(EmployerId))
}

/// A need as the view keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct NeedRow {
    pub need_id: uuid::Uuid,
    pub employer_id: uuid::Uuid,
    pub structure: uuid::Uuid,
    pub source: String,
    pub visit_id: Option<uuid::Uuid>,
    pub activities: String,
    pub rome_codes: Vec<String>,
    pub conditions: Option<String>,
    pub headcount: i32,
    pub horizon: String,
    pub hiring_intent: String,
    pub qualified: bool,
    pub status: String,
    pub surfaced_on: time::Date,
    /// The day the need was closed, if it was.
    #[serde(default)]
    pub closed_on: Option<time::Date>,
    /// Why it was closed (a [`passerelle_domain::need::NeedCloseReason`] tag).
    #[serde(default)]
    pub close_reason: Option<String>,
    /// The offer's reference the need was formalised with, if one was
    /// given.
    #[serde(default)]
    pub offer_reference: Option<String>,
}
keyed!(NeedRow, "needs", need_id);

/// The row's values read back into the domain's enums: an unknown stored
/// value is an error, never a default.
impl NeedRow {
    /// Takes the description's values, as a qualification or a
    /// correction replaces them.
    fn describe(&mut self, d: &NeedDescription) {
        self.activities = d.activities.as_str().to_owned();
        self.rome_codes = codes(d);
        self.conditions = d.conditions.as_ref().map(|c| c.as_str().to_owned());
        self.headcount = i32::from(d.headcount);
        self.horizon = tag(&d.horizon);
        self.hiring_intent = tag(&d.hiring_intent);
    }

    pub fn source(&self) -> Result<NeedSourceKind, UnknownTag> {
        untag(&self.source)
    }

    pub fn horizon(&self) -> Result<Horizon, UnknownTag> {
        untag(&self.horizon)
    }

    pub fn hiring_intent(&self) -> Result<HiringIntent, UnknownTag> {
        untag(&self.hiring_intent)
    }

    pub fn status(&self) -> Result<NeedStatus, UnknownTag> {
        untag(&self.status)
    }
}

const NEED_COLUMNS: &str = "need_id, employer_id, structure, source, visit_id, activities,
    rome_codes, conditions, headcount, horizon, hiring_intent, qualified, status, surfaced_on,
    closed_on, close_reason, offer_reference";

pub async fn get(db: impl PgExecutor<'_>, need: NeedId) -> Result<Option<NeedRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {NEED_COLUMNS} from needs.needs where need_id = $1"
    )))
    .bind(need.0)
    .fetch_optional(db)
    .await
}

/// A page of the needs of several employers, each its own page: newest
/// first, then by id, after the key `(surfaced_on, need_id)` when given,
/// `limit` rows at most per employer. One query for a page of employers.
pub async fn pages_of_employers(
    db: impl PgExecutor<'_>,
    employers: &[uuid::Uuid],
    after: Option<(time::Date, uuid::Uuid)>,
    limit: i64,
) -> Result<Vec<NeedRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select n.* from unnest($1::uuid[]) as e(id)
         cross join lateral (
             select {NEED_COLUMNS} from needs.needs m
             where m.employer_id = e.id
               and ($2::date is null
                    or m.surfaced_on < $2 or (m.surfaced_on = $2 and m.need_id > $3))
             order by m.surfaced_on desc, m.need_id limit $4
         ) n
         order by n.employer_id, n.surfaced_on desc, n.need_id"
    )))
    .bind(employers)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// What a search of the territory's open needs keeps: every criterion
/// given must hold. Values are parsed and bounded by the caller.
#[derive(Debug, Default, Clone)]
pub struct NeedSearch {
    /// Needs for any of these ROME codes.
    pub rome_codes: Vec<String>,
    /// The employer's commune (INSEE code); for a city with
    /// arrondissements, any of them.
    pub commune: Option<String>,
    /// The employer's département.
    pub departement: Option<String>,
    /// Surfaced on this day or later…
    pub surfaced_from: Option<time::Date>,
    /// …and on this day or earlier.
    pub surfaced_until: Option<time::Date>,
    pub source: Option<String>,
}

/// The open needs of the territory, newest first, `limit` after the
/// (surfaced on, id) key given: keyset pages that stay stable while needs
/// are surfaced.
pub async fn open_page(
    db: impl PgExecutor<'_>,
    after: Option<(time::Date, uuid::Uuid)>,
    search: &NeedSearch,
    limit: i64,
) -> Result<Vec<NeedRow>, sqlx::Error> {
    let (after_day, after_id) = after.unzip();
    let columns = NEED_COLUMNS
        .split(',')
        .map(|c| format!("n.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {columns} from needs.needs n
         join employers.employers e on e.employer_id = n.employer_id
         where n.status = 'open'
           and ($1::date is null or (n.surfaced_on, n.need_id) < ($1, $2))
           and (cardinality($3::text[]) = 0 or n.rome_codes && $3)
           and ($4::text is null or e.commune = $4 or e.municipality = $4)
           and ($5::text is null or e.departement = $5)
           and ($6::date is null or n.surfaced_on >= $6)
           and ($7::date is null or n.surfaced_on <= $7)
           and ($8::text is null or n.source = $8)
         order by n.surfaced_on desc, n.need_id desc limit $9"
    )))
    .bind(after_day)
    .bind(after_id)
    .bind(&search.rome_codes)
    .bind(search.commune.as_deref())
    .bind(search.departement.as_deref())
    .bind(search.surfaced_from)
    .bind(search.surfaced_until)
    .bind(search.source.as_deref())
    .bind(limit)
    .fetch_all(db)
    .await
}
