//! Per-request batching (a DataLoader caches for one request only): the
//! lists below a page of employers, and what a page of immersions names.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use passerelle_projections::views::employers::{self, ContactRow, VisitRow};
use passerelle_projections::views::needs::{self, NeedRow};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VisitsOf(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeedsOf(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContactsOf(pub Uuid);
/// An employer's name, for the rows that name their host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameOf(pub Uuid);

impl Loader<VisitsOf> for Lists {
    type Value = Vec<VisitRow>;
    type Error = Arc<sqlx::Error>;

    async fn load(
        &self,
        keys: &[VisitsOf],
    ) -> Result<HashMap<VisitsOf, Vec<VisitRow>>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<VisitsOf, Vec<VisitRow>> = HashMap::new();
        for row in employers::visits_of(&self.pool, &ids)
            .await
            .map_err(Arc::new)?
        {
            out.entry(VisitsOf(row.employer_id)).or_default().push(row);
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
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<ContactsOf, Vec<ContactRow>> = HashMap::new();
        for row in employers::contacts_of_employers(&self.pool, &ids)
            .await
            .map_err(Arc::new)?
        {
            out.entry(ContactsOf(row.employer_id))
                .or_default()
                .push(row);
        }
        Ok(out)
    }
}

impl Loader<NeedsOf> for Lists {
    type Value = Vec<NeedRow>;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[NeedsOf]) -> Result<HashMap<NeedsOf, Vec<NeedRow>>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<NeedsOf, Vec<NeedRow>> = HashMap::new();
        for row in needs::of_employers(&self.pool, &ids)
            .await
            .map_err(Arc::new)?
        {
            out.entry(NeedsOf(row.employer_id)).or_default().push(row);
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
