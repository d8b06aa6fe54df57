//! A fresh database per test, cloned from a migrated template so a test pays
//! milliseconds, not a migration run. The server is the one `DATABASE_URL`
//! names, else a private cluster under the temp directory shared by every
//! test process (durability off: tests only).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

use crate::MIGRATOR;
use crate::cluster::{ClusterOptions, ManagedCluster};
use crate::personal::{Keyring, MasterKey};
use crate::store::Store;
use crate::upcast::Upcasters;

/// Where tests find their server.
#[derive(Debug, Clone)]
enum Server {
    Url(Box<PgConnectOptions>, String),
    Managed(ManagedCluster),
}

impl Server {
    fn options(&self, database: &str) -> PgConnectOptions {
        match self {
            Server::Url(options, _) => (**options).clone().database(database),
            Server::Managed(cluster) => cluster.connect_options(database),
        }
    }

    fn url(&self, database: &str) -> String {
        match self {
            Server::Url(_, url) => {
                let mut url = url::Url::parse(url).expect("DATABASE_URL is a URL");
                url.set_path(database);
                url.to_string()
            }
            Server::Managed(cluster) => cluster.url(database),
        }
    }
}

/// The private test cluster's directory, shared by every test process of this user.
pub fn test_cluster_dir() -> PathBuf {
    std::env::temp_dir().join("passerelle-test-pg")
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            let options =
                PgConnectOptions::from_str(&url).expect("DATABASE_URL is a PostgreSQL URL");
            return Server::Url(Box::new(options), url);
        }
        let dir = test_cluster_dir();
        std::fs::create_dir_all(std::env::temp_dir()).expect("temp dir");
        // Several test processes start at once: one creates and starts the cluster.
        let lock = std::fs::File::create(std::env::temp_dir().join("passerelle-test-pg.lock"))
            .expect("test cluster lock file");
        lock.lock().expect("lock the test cluster");
        let cluster = ManagedCluster::start(
            &dir,
            ClusterOptions {
                durable: false,
                max_connections: 400,
            },
        )
        .unwrap_or_else(|e| panic!("the test PostgreSQL cluster could not start: {e}"));
        lock.unlock().expect("unlock the test cluster");
        Server::Managed(cluster)
    })
}

async fn admin_connection() -> PgConnection {
    PgConnection::connect_with(&server().options("postgres"))
        .await
        .expect("connect to the test server's postgres database")
}

/// The migrated template's name: it changes whenever a migration does.
async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let digest = MIGRATOR
                .iter()
                .flat_map(|m| m.checksum.iter().copied())
                .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
            let name = format!("passerelle_template_{digest:016x}");
            let mut admin = admin_connection().await;
            // Serialises template creation and clean-up across test processes.
            sqlx::query("select pg_advisory_lock(hashtext('passerelle-test-template'))")
                .execute(&mut admin)
                .await
                .expect("template lock");
            drop_orphans(&mut admin).await;
            let exists: bool =
                sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut admin)
                    .await
                    .expect("look for the template");
            if !exists {
                let building = format!("{name}_building");
                for sql in [
                    format!("drop database if exists {building} with (force)"),
                    format!("create database {building}"),
                ] {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await
                        .expect("create the template database");
                }
                let mut conn = PgConnection::connect_with(&server().options(&building))
                    .await
                    .expect("connect to the template");
                MIGRATOR.run(&mut conn).await.expect("migrate the template");
                conn.close().await.expect("close the template connection");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "alter database {building} rename to {name}"
                )))
                .execute(&mut admin)
                .await
                .expect("publish the template");
            }
            sqlx::query("select pg_advisory_unlock(hashtext('passerelle-test-template'))")
                .execute(&mut admin)
                .await
                .expect("template unlock");
            name
        })
        .await
}

/// Test databases are named after their process; those of processes that
/// are gone are dropped, so repeated runs do not fill the disk.
async fn drop_orphans(admin: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("select datname::text from pg_database where datname like 'test\\_%'")
            .fetch_all(&mut *admin)
            .await
            .expect("list test databases");
    for name in names {
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "drop database if exists {name} with (force)"
            )))
            .execute(&mut *admin)
            .await;
        }
    }
}

/// A database of its own for one test.
#[derive(Debug)]
pub struct TestDb {
    pub pool: PgPool,
    pub name: String,
}

impl TestDb {
    /// A database cloned from the migrated template.
    pub async fn new() -> Self {
        Self::create(template().await).await
    }

    /// A database with no schema at all, as a new deployment finds it.
    pub async fn empty() -> Self {
        template().await; // also drops the databases of finished test processes
        Self::create("template0").await
    }

    async fn create(template: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..8)
                .unwrap_or_default()
        );
        let mut admin = admin_connection().await;
        let mut attempt = 0;
        loop {
            let created = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "create database {name} template {template}"
            )))
            .execute(&mut admin)
            .await;
            match created {
                Ok(_) => break,
                // Another process is cloning the same template this instant.
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    tracing::debug!(error = %e, "template busy, retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                }
                Err(e) => panic!("create test database {name}: {e}"),
            }
        }
        let _ = admin.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(40)
            .connect_with(server().options(&name))
            .await
            .expect("connect to the test database");
        Self { pool, name }
    }

    /// A connection URL for this database, for a child process.
    pub fn url(&self) -> String {
        server().url(&self.name)
    }

    /// A store over this database with a fresh master key.
    pub fn store(&self) -> Store {
        self.store_with(Upcasters::default())
    }

    pub fn store_with(&self, upcasters: Upcasters) -> Store {
        Store::new(
            self.pool.clone(),
            Keyring::new(&MasterKey::generate()),
            upcasters,
        )
    }
}

/// The metadata of a test's append: a mediator of structure 1, fresh ids.
pub fn metadata() -> crate::Metadata {
    crate::Metadata {
        actor: "user:test".into(),
        role: "mediator".into(),
        structure: uuid::Uuid::from_u128(1),
        correlation_id: uuid::Uuid::new_v4(),
        causation_id: None,
        command_id: uuid::Uuid::new_v4(),
    }
}
