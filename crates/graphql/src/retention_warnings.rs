//! The erasures to come: the people of the viewer's structure whose
//! referent was warned that their data will be erased for inactivity, the
//! soonest first (`retentionWarnings`), as the retention job weighs them
//! (`passerelle_notify::retention::warned`).

use async_graphql::{Context, Object, Result, SimpleObject};
use passerelle_app::policy;
use passerelle_domain::values::UserId;
use passerelle_projections::views::people;
use time::Date;
use uuid::Uuid;

use crate::context::{gateway, staff};
use crate::error;
use crate::input::{dated_cursor, dated_key, page_size};
use crate::people::Person;
use crate::primitives::{PageInfo, page};

/// A person of the viewer's structure whose erasure for inactivity was
/// announced to her referent, and the day it comes unless someone acts.
#[derive(SimpleObject, Debug)]
pub struct RetentionWarning {
    pub person: Person,
    /// The day of the newest fact of her path.
    pub last_activity: Date,
    /// The day her referent was warned.
    pub warned_on: Date,
    /// The day her data is erased unless her retention is extended
    /// (`personRetentionExtend`) or a fact is recorded on her path.
    pub erased_on: Date,
    /// Whether that day has come: the retention job's next run erases her.
    pub due: bool,
}

#[derive(SimpleObject, Debug)]
pub struct RetentionWarningEdge {
    cursor: String,
    node: RetentionWarning,
}

#[derive(SimpleObject, Debug)]
pub struct RetentionWarningConnection {
    edges: Vec<RetentionWarningEdge>,
    page_info: PageInfo,
}

#[derive(Default, Debug)]
pub struct RetentionWarningsQuery;

#[Object]
impl RetentionWarningsQuery {
    /// The people of the viewer's structure whose data the retention job
    /// erases soon, the soonest first: to a manager or an admin every one,
    /// to a mediator those she is the referent of (who may extend their
    /// retention, `policy::extends_retention`); none while the job is off.
    /// The cursor names no one.
    async fn retention_warnings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<RetentionWarningConnection> {
        let actor = staff(ctx)?;
        let limit = page_size(first)?;
        let after = dated_key(after)?;
        let gw = gateway(ctx);
        let Some(settings) = gw.retention else {
            return Ok(RetentionWarningConnection {
                edges: Vec::new(),
                page_info: PageInfo::default(),
            });
        };
        let today = gw.handler.clock().today();
        let warned: Vec<_> =
            passerelle_notify::retention::warned(&gw.pool, actor.structure.0, today, settings)
                .await
                .map_err(error::db)?
                .into_iter()
                .filter(|w| after.is_none_or(|key| (w.erased_on, w.person_id) > key))
                .filter(|w| policy::extends_retention(&actor, UserId(w.referent)))
                .take(usize::try_from(limit + 1).unwrap_or(usize::MAX))
                .collect();
        let (warned, page_info) = page(
            warned,
            limit,
            |w| dated_cursor(w.erased_on, w.person_id),
            |cursor, w| (cursor, w),
        );
        let ids: Vec<Uuid> = warned.iter().map(|(_, w)| w.person_id).collect();
        let mut people: std::collections::HashMap<Uuid, _> = people::get_many(&gw.pool, &ids)
            .await
            .map_err(error::db)?
            .into_iter()
            .map(|row| (row.person_id, row))
            .collect();
        let edges = warned
            .into_iter()
            .filter_map(|(cursor, w)| {
                let person = people.remove(&w.person_id)?;
                Some(RetentionWarningEdge {
                    cursor,
                    node: RetentionWarning {
                        person: Person::from(person),
                        last_activity: w.last_activity,
                        warned_on: w.warned_on,
                        due: w.erased_on <= today,
                        erased_on: w.erased_on,
                    },
                })
            })
            .collect();
        Ok(RetentionWarningConnection { edges, page_info })
    }
}
