//! Per-request batching (a DataLoader caches for one request only): the
//! lists and pages of lists below a page of employers, what a page of
//! immersions names, and the immersions' streams their recorded facts are
//! read from.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use passerelle_app::{AppError, Handler, Recorded};
use passerelle_domain::employer::{Employer, EmployerEvent};
use passerelle_domain::immersion::{Immersion, ImmersionEvent};
use passerelle_domain::need::{Need, NeedEvent};
use passerelle_domain::values::{EmployerId, ImmersionId, NeedId};
use passerelle_projections::views::employers::{self, ContactRow, VisitRow};
use passerelle_projections::views::needs::{self, NeedRow};
use time::Date;
use uuid::Uuid;

/// Batches the lists below employers: one query per page, not per row.
#[derive(Debug)]
pub struct Lists {
    pool: sqlx::PgPool,
}

impl Lists {
    pub(crate) fn loader(pool: sqlx::PgPool) -> DataLoader<Self> {
        DataLoader::new(Self { pool }, tokio::spawn)
    }
}

/// An employer's contacts: those kept, or those taken off its list
/// (`removed`) and not erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContactsOf {
    pub employer: Uuid,
    pub removed: bool,
}
/// An employer's name, for the rows that name their host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameOf(pub Uuid);

/// One page of an employer's visits: the key of the row it starts after
/// (`visited_on`, `visit_id`) and how many rows to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VisitPageOf {
    pub employer: Uuid,
    pub after: Option<(Date, Uuid)>,
    pub limit: i64,
}

/// One page of an employer's needs: the key of the row it starts after
/// (`surfaced_on`, `need_id`) and how many rows to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeedPageOf {
    pub employer: Uuid,
    pub after: Option<(Date, Uuid)>,
    pub limit: i64,
}

/// A page below an employer: the key it starts after, and how many rows.
type Page = (Option<(Date, Uuid)>, i64);

/// The employers of the keys that ask the same page (a page of employers
/// asks the same `first` and `after` for each): one query per group.
fn by_page<K: Copy>(
    keys: &[K],
    page: impl Fn(&K) -> Page,
    employer: impl Fn(&K) -> Uuid,
) -> HashMap<Page, Vec<Uuid>> {
    let mut groups: HashMap<_, Vec<Uuid>> = HashMap::new();
    for k in keys {
        groups.entry(page(k)).or_default().push(employer(k));
    }
    groups
}

impl Loader<VisitPageOf> for Lists {
    type Value = Vec<VisitRow>;
    type Error = Arc<sqlx::Error>;

    async fn load(
        &self,
        keys: &[VisitPageOf],
    ) -> Result<HashMap<VisitPageOf, Vec<VisitRow>>, Self::Error> {
        let mut out: HashMap<VisitPageOf, Vec<VisitRow>> = HashMap::new();
        for ((after, limit), ids) in by_page(keys, |k| (k.after, k.limit), |k| k.employer) {
            for row in employers::visit_pages(&self.pool, &ids, after, limit)
                .await
                .map_err(Arc::new)?
            {
                let key = VisitPageOf {
                    employer: row.employer_id,
                    after,
                    limit,
                };
                out.entry(key).or_default().push(row);
            }
        }
        Ok(out)
    }
}

impl Loader<NeedPageOf> for Lists {
    type Value = Vec<NeedRow>;
    type Error = Arc<sqlx::Error>;

    async fn load(
        &self,
        keys: &[NeedPageOf],
    ) -> Result<HashMap<NeedPageOf, Vec<NeedRow>>, Self::Error> {
        let mut out: HashMap<NeedPageOf, Vec<NeedRow>> = HashMap::new();
        for ((after, limit), ids) in by_page(keys, |k| (k.after, k.limit), |k| k.employer) {
            for row in needs::pages_of_employers(&self.pool, &ids, after, limit)
                .await
                .map_err(Arc::new)?
            {
                let key = NeedPageOf {
                    employer: row.employer_id,
                    after,
                    limit,
                };
                out.entry(key).or_default().push(row);
            }
        }
        Ok(out)
    }
}

impl Loader<ContactsOf> for Lists {
    type Value = Vec<ContactRow>;
    type Error = Arc<sqlx::Error>;

    async fn load(
        &self,
        keys: &[ContactsOf],
    ) -> Result<HashMap<ContactsOf, Vec<ContactRow>>, Self::Error> {
        let mut out: HashMap<ContactsOf, Vec<ContactRow>> = HashMap::new();
        // One query for the kept contacts, one for the removed, when asked.
        for removed in [false, true] {
            let ids: Vec<Uuid> = keys
                .iter()
                .filter(|k| k.removed == removed)
                .map(|k| k.employer)
                .collect();
            if ids.is_empty() {
                continue;
            }
            for row in employers::contacts_of_employers(&self.pool, &ids, removed)
                .await
                .map_err(Arc::new)?
            {
                out.entry(ContactsOf {
                    employer: row.employer_id,
                    removed,
                })
                .or_default()
                .push(row);
            }
        }
        Ok(out)
    }
}

impl Loader<NameOf> for Lists {
    type Value = String;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[NameOf]) -> Result<HashMap<NameOf, String>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        Ok(employers::names_of(&self.pool, &ids)
            .await
            .map_err(Arc::new)?
            .into_iter()
            .map(|(id, name)| (NameOf(id), name))
            .collect())
    }
}

/// Reads immersions' streams: each once per request, however many of its
/// recorded facts the request asks.
#[derive(Debug)]
pub struct Histories {
    handler: Handler,
}

impl Histories {
    pub(crate) fn loader(handler: Handler) -> DataLoader<Self> {
        DataLoader::new(Self { handler }, tokio::spawn)
    }

    /// For a subscription's connection, which outlives many changes: the
    /// fields of one answer still share a read, the next answer reads
    /// again.
    pub(crate) fn connection_loader(handler: Handler) -> DataLoader<Self> {
        let loader = Self::loader(handler);
        loader.enable_all_cache(false);
        loader
    }
}

/// An immersion's facts, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HistoryOf(pub ImmersionId);

impl Loader<HistoryOf> for Histories {
    type Value = Arc<[Recorded<ImmersionEvent>]>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[HistoryOf],
    ) -> Result<HashMap<HistoryOf, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        // One stream at a time: a page's streams share the pool with the
        // rest of the request.
        for key in keys {
            let history = self
                .handler
                .history::<Immersion>(key.0)
                .await
                .map_err(Arc::new)?;
            out.insert(*key, history.into());
        }
        Ok(out)
    }
}

/// An establishment's facts, oldest first: its file's and its visits'
/// corrections are read from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmployerHistoryOf(pub EmployerId);

impl Loader<EmployerHistoryOf> for Histories {
    type Value = Arc<[Recorded<EmployerEvent>]>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[EmployerHistoryOf],
    ) -> Result<HashMap<EmployerHistoryOf, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        // One stream at a time, as for immersions.
        for key in keys {
            let history = self
                .handler
                .history::<Employer>(key.0)
                .await
                .map_err(Arc::new)?;
            out.insert(*key, history.into());
        }
        Ok(out)
    }
}

/// A need's facts, oldest first: its corrections are read from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeedHistoryOf(pub NeedId);

impl Loader<NeedHistoryOf> for Histories {
    type Value = Arc<[Recorded<NeedEvent>]>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[NeedHistoryOf],
    ) -> Result<HashMap<NeedHistoryOf, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for key in keys {
            let history = self
                .handler
                .history::<Need>(key.0)
                .await
                .map_err(Arc::new)?;
            out.insert(*key, history.into());
        }
        Ok(out)
    }
}
