//! A batch's rows, read once, changed in memory and written back at once.
//!
//! A projection that ran one statement per event paid a round trip per
//! event, and a rebuild of a million events paid a million. Instead, a
//! projection reads every row its batch may touch in one query per table
//! ([`Rows::load`]), applies the events to them in order, in memory, then
//! writes the rows it changed in one statement per table ([`Rows::save`],
//! [`Inserts::save`]). The events of one batch run in the batch's
//! transaction either way, so what readers see is unchanged.
//!
//! Rows travel as JSON (`json_populate_recordset` over the table's own row
//! type): one parameter carries any number of rows, array columns included.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

/// A row of a projection's table keyed by one uuid column.
pub trait Row: Serialize + for<'r> FromRow<'r, PgRow> + Send + Unpin {
    /// The table, unqualified: the batch runs with the version's schema
    /// first on the search path.
    const TABLE: &'static str;
    /// The key column.
    const KEY: &'static str;
    fn key(&self) -> Uuid;
}

/// The rows of one table that a batch reads or writes.
pub struct Rows<R: Row> {
    rows: HashMap<Uuid, R>,
    changed: HashSet<Uuid>,
    removed: HashSet<Uuid>,
}

impl<R: Row> Rows<R> {
    /// Reads the rows of these keys that exist.
    pub async fn load(
        conn: &mut PgConnection,
        keys: impl IntoIterator<Item = Uuid>,
    ) -> Result<Self, sqlx::Error> {
        let keys: Vec<Uuid> = keys
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let rows: Vec<R> = if keys.is_empty() {
            Vec::new()
        } else {
            // Several projections have a table of this name, each in its
            // own schema: the comment keeps their prepared statements
            // apart, as a statement cached for another table's columns
            // would fail ("cached plan must not change result type").
            //
            // A join on the keys rather than `= any($1)`: a prepared
            // statement's generic plan matches each row against the whole
            // array, in time growing with both.
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "select t.* from unnest($1::uuid[]) k join {table} t on t.{key} = k -- {name}",
                table = R::TABLE,
                key = R::KEY,
                name = std::any::type_name::<R>()
            )))
            .bind(&keys)
            .fetch_all(conn)
            .await?
        };
        Ok(Self {
            rows: rows.into_iter().map(|r| (r.key(), r)).collect(),
            changed: HashSet::new(),
            removed: HashSet::new(),
        })
    }

    pub fn get(&self, key: Option<Uuid>) -> Option<&R> {
        self.rows.get(&key?)
    }

    /// The row to change, if it exists; it will be written back.
    pub fn get_mut(&mut self, key: Option<Uuid>) -> Option<&mut R> {
        let key = key?;
        let row = self.rows.get_mut(&key)?;
        self.changed.insert(key);
        Some(row)
    }

    /// Adds a row unless one of its key exists already (`on conflict do
    /// nothing`, as each table's first event wins).
    pub fn insert(&mut self, row: R) {
        let key = row.key();
        if let std::collections::hash_map::Entry::Vacant(slot) = self.rows.entry(key) {
            slot.insert(row);
            self.changed.insert(key);
        }
    }

    /// Changes every row `matches` selects, of those read and those added
    /// so far; each is written back.
    pub fn update_where(&mut self, matches: impl Fn(&R) -> bool, mut change: impl FnMut(&mut R)) {
        for (key, row) in &mut self.rows {
            if matches(row) {
                change(row);
                self.changed.insert(*key);
            }
        }
    }

    /// The keys of the rows added or changed so far.
    pub fn changed(&self) -> Vec<Uuid> {
        self.changed.iter().copied().collect()
    }

    /// Deletes the row of this key, if any.
    pub fn remove(&mut self, key: Uuid) {
        if self.rows.remove(&key).is_some() {
            self.changed.remove(&key);
            self.removed.insert(key);
        }
    }

    /// Deletes the rows removed, then writes every row added or changed:
    /// a statement each.
    pub async fn save(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        self.save_with(conn, None).await
    }

    /// Like [`Rows::save`], then runs `then` in the same statement, where
    /// `old` names the rows written as they were before (those that
    /// existed) and `added` as they are now: for totals kept beside the
    /// rows, which count each change once. A row removed is not seen there,
    /// so a table with totals removes none.
    pub async fn save_then(self, conn: &mut PgConnection, then: &str) -> Result<(), sqlx::Error> {
        debug_assert!(
            self.removed.is_empty(),
            "{}: totals miss a removed row",
            R::TABLE
        );
        self.save_with(conn, Some(then)).await
    }

    async fn save_with(
        self,
        conn: &mut PgConnection,
        then: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let Self {
            mut rows,
            changed,
            removed,
        } = self;
        if !removed.is_empty() {
            let removed: Vec<Uuid> = removed.into_iter().collect();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "delete from {table} t using unnest($1::uuid[]) k where t.{key} = k",
                table = R::TABLE,
                key = R::KEY
            )))
            .bind(&removed)
            .execute(&mut *conn)
            .await?;
        }
        let keys: Vec<Uuid> = changed.into_iter().collect();
        let changed: Vec<R> = keys.iter().filter_map(|k| rows.remove(k)).collect();
        let then = then.map(|then| Then {
            old: Some((R::KEY, &keys)),
            sql: then,
        });
        write_to(conn, R::TABLE, &changed, Some(R::KEY), then).await
    }
}

/// Rows a batch only adds, to a table whose key may span several columns;
/// a row whose key exists already is left as it is.
pub struct Inserts<R: Serialize> {
    rows: Vec<R>,
    table: &'static str,
}

impl<R: Serialize> Inserts<R> {
    pub fn new(table: &'static str) -> Self {
        Self {
            rows: Vec::new(),
            table,
        }
    }

    pub fn push(&mut self, row: R) {
        self.rows.push(row);
    }

    pub async fn save(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        write_to(conn, self.table, &self.rows, None, None).await
    }

    /// Like [`Inserts::save`], then runs `then` in the same statement, where
    /// `added` names the rows actually inserted (a row whose key existed is
    /// not): for totals kept beside the rows, which must count each row once.
    pub async fn save_then(self, conn: &mut PgConnection, then: &str) -> Result<(), sqlx::Error> {
        let then = Then {
            old: None,
            sql: then,
        };
        write_to(conn, self.table, &self.rows, None, Some(then)).await
    }
}

/// A statement run after the rows are written, in the same statement.
struct Then<'a> {
    /// The key column and the keys of the rows written, to read those that
    /// existed, as they were, as `old`.
    old: Option<(&'static str, &'a [Uuid])>,
    /// Reads the rows inserted or updated as `added`.
    sql: &'a str,
}

/// Inserts `rows` into `table`; on a key that exists, replaces that row
/// (`upsert_on`, the key column) or leaves it. `then` runs after, in the
/// same statement.
async fn write_to<R: Serialize>(
    conn: &mut PgConnection,
    table: &str,
    rows: &[R],
    upsert_on: Option<&str>,
    then: Option<Then<'_>>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_string(rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    // The columns are the row type's fields, names written in the code.
    let columns: Vec<String> = match serde_json::to_value(&rows[0]) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
        _ => {
            return Err(sqlx::Error::Encode(
                format!("a row of {table} is not a JSON object").into(),
            ));
        }
    };
    let list = columns.join(", ");
    let conflict = match upsert_on {
        Some(key) => {
            let set: Vec<String> = columns
                .iter()
                .filter(|c| c.as_str() != key)
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            if set.is_empty() {
                format!("on conflict ({key}) do nothing")
            } else {
                format!("on conflict ({key}) do update set {}", set.join(", "))
            }
        }
        None => "on conflict do nothing".to_owned(),
    };
    let insert = format!(
        "insert into {table} ({list}) select {list} from json_populate_recordset(null::{table}, $1::json) {conflict}"
    );
    // Every part of one statement reads the same snapshot: `old` sees the
    // rows as they were before the insert beside it.
    let (sql, old_keys) = match then {
        Some(Then {
            old: Some((key, keys)),
            sql,
        }) => (
            format!(
                "with old as (select t.* from unnest($2::uuid[]) k join {table} t on t.{key} = k),
                      added as ({insert} returning *) {sql}"
            ),
            Some(keys),
        ),
        Some(Then { old: None, sql }) => {
            (format!("with added as ({insert} returning *) {sql}"), None)
        }
        None => (insert, None),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(json);
    if let Some(keys) = old_keys {
        query = query.bind(keys);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Implements [`Row`] for a row type: `keyed!(Type, "table", key_field)`.
macro_rules! keyed {
    ($row:ty, $table:literal, $key:ident) => {
        impl $crate::rows::Row for $row {
            const TABLE: &'static str = $table;
            const KEY: &'static str = stringify!($key);
            fn key(&self) -> uuid::Uuid {
                self.$key
            }
        }
    };
}
pub(crate) use keyed;
