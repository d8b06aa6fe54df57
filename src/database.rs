//! Which PostgreSQL the service talks to: the server `DATABASE_URL` names, or
//! a private cluster under the data directory, created and started on first
//! use and stopped on exit. Also where the master key comes from.

use std::path::Path;
use std::str::FromStr;

use anyhow::Context as _;
use passerelle_store::MasterKey;
use passerelle_store::cluster::{ClusterOptions, ManagedCluster};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::Config;

/// The database the zero-config cluster serves.
const DATABASE: &str = "passerelle";

#[derive(Debug)]
pub struct Database {
    pub pool: PgPool,
    /// Where the reads that may lag go: the standby `database.read_url`
    /// names, when set and close enough behind (see `standby`).
    pub reads: passerelle_graphql::Reads,
    /// Options to reach the server's other databases (the benchmark makes its own).
    pub server: PgConnectOptions,
    cluster: Option<ManagedCluster>,
}

impl Database {
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        let max = config.database_max_connections;
        let reads = match &config.database.read_url {
            Some(url) => {
                let floor = passerelle_graphql::ReplayFloor::new();
                passerelle_graphql::Reads::with_standby(
                    standby_pool(url, max, floor.clone())?,
                    std::time::Duration::from_secs(config.database.own_writes_secs),
                    floor,
                )
            }
            None => passerelle_graphql::Reads::primary_only(),
        };
        if let Some(url) = &config.database_url {
            let options =
                PgConnectOptions::from_str(url).context("DATABASE_URL is not a PostgreSQL URL")?;
            let pool = passerelle_store::connect(options.clone(), max)
                .await
                .with_context(|| format!("cannot connect to the database at {}", redact(url)))?;
            return Ok(Self {
                pool,
                reads,
                server: options,
                cluster: None,
            });
        }
        let dir = config.data_dir.join("postgres");
        let cluster = tokio::task::spawn_blocking(move || {
            ManagedCluster::start(
                &dir,
                ClusterOptions {
                    durable: true,
                    // Both pools (the command path's is half the
                    // readers'), and room for an administrator and the
                    // benchmarks' own connections.
                    max_connections: max.saturating_add(max / 2).saturating_add(10).max(100),
                },
            )
        })
        .await?
        .context(
            "cannot start the private PostgreSQL cluster (set DATABASE_URL to use another server)",
        )?;
        let server = cluster.connect_options("postgres");
        create_database_if_missing(&server, DATABASE).await?;
        let pool = passerelle_store::connect(cluster.connect_options(DATABASE), max)
            .await
            .context("cannot connect to the private PostgreSQL cluster")?;
        Ok(Self {
            pool,
            reads,
            server,
            cluster: Some(cluster),
        })
    }

    /// Closes the pools and stops the private cluster if this process started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(standby) = self.reads.standby() {
            standby.close().await;
        }
        if let Some(cluster) = self.cluster.filter(ManagedCluster::started_here) {
            match tokio::task::spawn_blocking(move || cluster.stop()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "the private PostgreSQL cluster did not stop")
                }
                Err(e) => {
                    tracing::error!(error = %e, "the private PostgreSQL cluster did not stop")
                }
            }
        }
    }
}

/// The standby's pool, connected on first use: a standby down at start
/// stops nothing, the primary serves until it answers. Waits for a
/// connection briefly, since the primary can serve instead; a statement
/// runs there for `STANDBY_STATEMENT_TIMEOUT` at most, below the time the
/// service waits for a read on the standby (`STANDBY_READ_WITHIN`), so a
/// heavy read ends with its own error and a hung standby is told apart.
///
/// Each connection, when opened and each time it is handed out, is checked
/// against `floor` first (one round trip): `read_url` may name a Service
/// balancing over several standbys, each at its own lag, and the one the
/// binary measures says nothing of the others. A connection that has not replayed the floor is closed and
/// another one opened, until one has or the acquire times out (then the
/// primary serves).
fn standby_pool(
    url: &str,
    max: u32,
    floor: passerelle_graphql::ReplayFloor,
) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .context("database.read_url is not a PostgreSQL URL")?
        .options([
            ("jit", "off"),
            ("idle_in_transaction_session_timeout", "60s"),
            ("statement_timeout", STANDBY_STATEMENT_TIMEOUT),
        ]);
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(std::time::Duration::from_secs(2))
        .after_connect({
            let floor = floor.clone();
            move |conn, _| {
                let floor = floor.clone();
                Box::pin(async move {
                    // Refused, the pool opens another connection (the
                    // Service may send it to another standby) until its
                    // acquire times out.
                    if replayed_floor(conn, &floor).await? {
                        Ok(())
                    } else {
                        Err(sqlx::Error::Protocol(
                            "this standby is further behind than database.read_max_lag_ms".into(),
                        ))
                    }
                })
            }
        })
        .before_acquire(move |conn, _| {
            let floor = floor.clone();
            Box::pin(async move { replayed_floor(conn, &floor).await })
        })
        .connect_lazy_with(options))
}

/// Whether `conn` has replayed the floor (always, before the first measure).
async fn replayed_floor(
    conn: &mut PgConnection,
    floor: &passerelle_graphql::ReplayFloor,
) -> sqlx::Result<bool> {
    let Some(floor) = floor.get() else {
        return Ok(true);
    };
    let replayed: Option<i64> = sqlx::query_scalar(crate::standby::REPLAYED)
        .fetch_one(&mut *conn)
        .await?;
    Ok(replayed.is_some_and(|r| r >= floor))
}

/// Below `passerelle_graphql::STANDBY_READ_WITHIN` (12 s).
const STANDBY_STATEMENT_TIMEOUT: &str = "10s";

pub async fn create_database_if_missing(
    server: &PgConnectOptions,
    name: &str,
) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(&server.clone().database("postgres"))
        .await
        .context("cannot connect to the PostgreSQL server")?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        tracing::info!(database = name, "database created");
    }
    conn.close().await?;
    Ok(())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The master key from config, else from `data_dir/master.key`, made on first run.
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(text) = &config.master_key {
        return MasterKey::from_base64(text).context("PASSERELLE_MASTER_KEY is invalid");
    }
    let path = config.data_dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return MasterKey::from_base64(&text)
            .with_context(|| format!("{} is invalid", path.display()));
    }
    let key = MasterKey::generate();
    write_secret(&path, &key.to_base64())?;
    tracing::warn!(
        path = %path.display(),
        "generated a new master key for personal data: back it up with the database; \
         in production set PASSERELLE_MASTER_KEY instead"
    );
    Ok(key)
}

pub(crate) fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{text}")?;
    Ok(())
}
