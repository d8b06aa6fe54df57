//! The private cluster is reachable by the service's own user only: its
//! socket in a directory of mode 0700 owned by the cluster's user (also when
//! a long data directory puts it under the temp directory), and a password
//! asked of every connection, also on a cluster made before passwords.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use passerelle_store::cluster::{ClusterError, ClusterOptions, ManagedCluster};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection};

/// A cluster under a data directory too long for a socket path; stopped
/// and removed with its socket directory when dropped.
struct LongCluster {
    root: PathBuf,
    pgdata: PathBuf,
    cluster: Option<ManagedCluster>,
}

impl LongCluster {
    fn new() -> Self {
        let root = std::env::temp_dir().join(format!(
            "passerelle-cluster-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let pgdata = root
            .join("un-repertoire-de-donnees-au-nom-assez-long-pour-deplacer-la-socket")
            .join("postgres");
        std::fs::create_dir_all(&root).unwrap();
        let mut long = Self {
            root,
            pgdata,
            cluster: None,
        };
        assert!(long.pgdata.as_os_str().len() > 100);
        long.start();
        long
    }

    fn start(&mut self) -> &ManagedCluster {
        let cluster = ManagedCluster::start(
            &self.pgdata,
            ClusterOptions {
                durable: false,
                max_connections: 20,
            },
        )
        .unwrap();
        self.cluster.insert(cluster)
    }

    fn cluster(&self) -> &ManagedCluster {
        self.cluster.as_ref().unwrap()
    }
}

impl Drop for LongCluster {
    fn drop(&mut self) {
        if let Some(cluster) = &self.cluster {
            let _ = cluster.stop();
            let _ = std::fs::remove_dir_all(cluster.socket_dir());
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn without_password(cluster: &ManagedCluster) -> PgConnectOptions {
    PgConnectOptions::new()
        .socket(cluster.socket_dir())
        .port(5432)
        .username("postgres")
        .database("postgres")
}

/// Connections with the cluster's options go in; without the password or
/// with another one they are refused by the server.
async fn only_the_password_opens(cluster: &ManagedCluster) {
    let mut conn = PgConnection::connect_with(&cluster.connect_options("postgres"))
        .await
        .unwrap();
    let rules: Vec<(String, Vec<String>, String)> = sqlx::query_as(
        "select type, user_name, auth_method from pg_hba_file_rules where error is null",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        rules,
        vec![("local".into(), vec!["all".into()], "scram-sha-256".into())]
    );
    conn.close().await.unwrap();

    let none = PgConnection::connect_with(&without_password(cluster)).await;
    assert!(none.is_err(), "a connection without the password got in");
    let wrong = PgConnection::connect_with(&without_password(cluster).password("devine"))
        .await
        .unwrap_err();
    match wrong {
        sqlx::Error::Database(e) => assert_eq!(e.code().as_deref(), Some("28P01"), "{e}"),
        other => panic!("{other:?}"),
    }
}

fn password_file(pgdata: &Path) -> PathBuf {
    pgdata.join("passerelle.password")
}

#[tokio::test]
async fn a_long_data_directory_puts_the_socket_in_a_private_directory_behind_a_password() {
    let long = LongCluster::new();
    let cluster = long.cluster();
    let socket_dir = cluster.socket_dir();
    assert!(!socket_dir.starts_with(&long.pgdata), "{socket_dir:?}");

    // Only the cluster's user enters: `postgres` when the tests run as root.
    let owner = std::fs::metadata(&long.pgdata).unwrap().uid();
    let dir = std::fs::symlink_metadata(socket_dir).unwrap();
    assert!(dir.is_dir());
    assert_eq!(dir.uid(), owner);
    assert_eq!(mode(socket_dir), 0o700);
    assert_eq!(mode(&socket_dir.join(".s.PGSQL.5432")) & 0o777, 0o700);
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        assert_ne!(owner, 0, "the cluster runs as the postgres user");
    }

    // The password lies in the data directory, for its owner only.
    let file = password_file(&long.pgdata);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), owner);
    only_the_password_opens(cluster).await;
    // The URL handed to child processes carries it.
    let password = std::fs::read_to_string(&file).unwrap();
    assert!(
        cluster
            .url("postgres")
            .starts_with(&format!("postgres://postgres:{}@", password.trim()))
    );
}

/// A cluster as an earlier release left it: every local connection
/// trusted, no password file, its socket directory open to everyone.
fn make_it_old(long: &LongCluster) {
    std::fs::remove_file(password_file(&long.pgdata)).unwrap();
    // Rewritten in place, the file keeps its owner.
    std::fs::write(long.pgdata.join("pg_hba.conf"), "local all all trust\n").unwrap();
    std::fs::set_permissions(
        long.cluster().socket_dir(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

#[tokio::test]
async fn a_cluster_made_before_passwords_gets_one_whether_it_is_running_or_stopped() {
    let mut long = LongCluster::new();

    // Left running by an earlier release: adopted and secured in place.
    make_it_old(&long);
    let mut conn = PgConnection::connect_with(&long.cluster().connect_options("postgres"))
        .await
        .unwrap();
    sqlx::query("select pg_reload_conf()")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while PgConnection::connect_with(&without_password(long.cluster()))
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "trust never applied");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let adopted = long.start().clone();
    assert!(!adopted.started_here());
    assert_eq!(mode(adopted.socket_dir()), 0o700);
    assert_eq!(mode(&password_file(&long.pgdata)), 0o600);
    only_the_password_opens(&adopted).await;

    // Stopped, then started by this release.
    make_it_old(&long);
    adopted.stop().unwrap();
    let started = long.start().clone();
    assert!(started.started_here());
    assert_eq!(mode(started.socket_dir()), 0o700);
    assert_eq!(mode(&password_file(&long.pgdata)), 0o600);
    only_the_password_opens(&started).await;
}

#[test]
fn a_socket_directory_taken_by_another_user_is_refused() {
    // Only root can hand a directory to another user.
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        return;
    }
    let mut long = LongCluster::new();
    let dir = long.cluster().socket_dir().to_owned();
    long.cluster().stop().unwrap();
    // `nobody` got there first: it could put its own socket in it.
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let refused = ManagedCluster::start(
        &long.pgdata,
        ClusterOptions {
            durable: false,
            max_connections: 20,
        },
    )
    .unwrap_err();
    assert!(
        matches!(&refused, ClusterError::UnsafeSocketDir(d) if *d == dir),
        "{refused}"
    );
    long.cluster = None;
    let _ = std::fs::remove_dir_all(&dir);
}
