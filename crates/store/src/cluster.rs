//! A private PostgreSQL cluster owned by the process: created with the
//! machine's `initdb` on first use, started with `pg_ctl` on a Unix socket
//! only (no TCP port), stopped on request. Used by `passerelle serve` when no
//! `DATABASE_URL` is given, and by the tests.
//!
//! PostgreSQL refuses to run as root, and CI and containers often are root:
//! then the cluster runs as the `postgres` system user, owner of its directory.
//!
//! Only the service's own user reaches it: the socket lies in a directory of
//! mode 0700 owned by the cluster's user (root, which the service may run as,
//! passes any permission), the socket itself is 0700, and every connection
//! gives the superuser's password (SCRAM), generated when the cluster is
//! created and kept in its directory with mode 0600. A cluster made before
//! the password existed gets one when it is next started.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::postgres::PgConnectOptions;

use crate::personal::hmac_sha256;

const INSTALL_HINT: &str = "install it with `apt-get install postgresql` (Debian, Ubuntu) \
     or `dnf install postgresql-server` (Fedora), or set DATABASE_URL to use an existing server";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl) were not found on PATH or under /usr/lib/postgresql/*/bin: {INSTALL_HINT}"
    )]
    NotInstalled,
    #[error(
        "running as root, the cluster runs as the `postgres` user, which does not exist: create it (`useradd --system postgres`) or set DATABASE_URL"
    )]
    NoPostgresUser,
    #[error(
        "the `postgres` user cannot reach {0}: choose a data directory under a world-traversable path (e.g. --data-dir /var/lib/passerelle)"
    )]
    Unreachable(PathBuf),
    #[error(
        "the socket directory {0} is not a directory of the cluster's own user: remove it, or choose a shorter data directory path so the socket lies in it"
    )]
    UnsafeSocketDir(PathBuf),
    #[error("cannot set up password authentication on the private cluster: {0}")]
    Password(String),
    #[error("`{command}` failed ({status}): {output}")]
    Command {
        command: String,
        status: String,
        output: String,
    },
    #[error("cluster directory {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// How the cluster trades durability for speed.
#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    /// fsync and synchronous commit on (serving, benchmarks) or off (tests).
    pub durable: bool,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct ManagedCluster {
    pgdata: PathBuf,
    bin_dir: PathBuf,
    socket_dir: PathBuf,
    run_as_postgres: bool,
    started_here: bool,
    password: Password,
}

/// The superuser's password, never printed.
#[derive(Clone, Default)]
struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

const PORT: u16 = 5432;
/// Unix socket paths are limited to 107 bytes on Linux.
const SOCKET_PATH_MAX: usize = 100;
/// The superuser's password, in the data directory.
const PASSWORD_FILE: &str = "passerelle.password";
/// A password being set up: it becomes `PASSWORD_FILE` once the server asks
/// for it, so a setup cut short is taken up again with the same password.
const PENDING_PASSWORD_FILE: &str = "passerelle.password.new";
/// Who may connect: through the socket only, with the password.
const HBA: &str = "# Written by Passerelle: connections through the Unix socket only, with the
# superuser's password (passerelle.password in this directory).
local all all scram-sha-256
";

/// Where `initdb` and `pg_ctl` are: on PATH, else the newest Debian install.
pub fn find_binaries() -> Result<PathBuf, ClusterError> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|d| has_both(d))
    {
        return Ok(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or(ClusterError::NotInstalled)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The effective uid, read without libc so the crate stays free of `unsafe`.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn postgres_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let fields: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))?
        .split(':')
        .collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

impl ManagedCluster {
    /// Creates the cluster in `pgdata` if needed and starts it unless it is
    /// already running (left by an earlier process: it is adopted).
    pub fn start(pgdata: &Path, options: ClusterOptions) -> Result<Self, ClusterError> {
        let bin_dir = find_binaries()?;
        std::fs::create_dir_all(pgdata).map_err(io_err(pgdata))?;
        let pgdata = pgdata.canonicalize().map_err(io_err(pgdata))?;
        let run_as_postgres = effective_uid() == Some(0);
        // The cluster's user: `postgres` under root, else ourselves.
        let owner = if run_as_postgres {
            let (uid, gid) = postgres_ids().ok_or(ClusterError::NoPostgresUser)?;
            std::os::unix::fs::chown(&pgdata, Some(uid), Some(gid)).map_err(io_err(&pgdata))?;
            std::fs::set_permissions(&pgdata, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .map_err(io_err(&pgdata))?;
            check_traversable(&pgdata)?;
            Some((uid, gid))
        } else {
            None
        };
        let socket_dir = if pgdata.as_os_str().len() + 20 < SOCKET_PATH_MAX {
            pgdata.clone()
        } else {
            let dir = std::env::temp_dir().join(format!("passerelle-pg-{:x}", fxhash(&pgdata)));
            private_dir(&dir, owner)?;
            dir
        };
        let mut cluster = Self {
            pgdata,
            bin_dir,
            socket_dir,
            run_as_postgres,
            started_here: false,
            password: Password::default(),
        };
        if !cluster.pgdata.join("PG_VERSION").exists() {
            tracing::info!(dir = %cluster.pgdata.display(), "creating a private PostgreSQL cluster");
            cluster.run(
                "initdb",
                &[
                    "-D",
                    &cluster.pgdata.to_string_lossy(),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ],
            )?;
        }
        if !cluster.is_running() {
            let mut settings = format!(
                "-k {} -c unix_socket_permissions=0700 -c listen_addresses='' -p {PORT} -c max_connections={} -c idle_in_transaction_session_timeout=60s",
                cluster.socket_dir.display(),
                options.max_connections
            );
            if !options.durable {
                settings
                    .push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
            }
            let log = cluster.pgdata.join("server.log");
            cluster.run(
                "pg_ctl",
                &[
                    "-D",
                    &cluster.pgdata.to_string_lossy(),
                    "-l",
                    &log.to_string_lossy(),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &settings,
                    "start",
                ],
            )?;
            cluster.started_here = true;
            tracing::info!(socket = %cluster.socket_dir.display(), "private PostgreSQL cluster started");
        }
        cluster.password = cluster.secure(owner)?;
        Ok(cluster)
    }

    /// The superuser's password, after making sure the server asks for it:
    /// done once, when the cluster is created or was made by a release
    /// before passwords (its `pg_hba.conf` trusts every local connection).
    fn secure(&self, owner: Option<(u32, u32)>) -> Result<Password, ClusterError> {
        let done = self.pgdata.join(PASSWORD_FILE);
        let hba = self.pgdata.join("pg_hba.conf");
        let hba_is_ours = std::fs::read_to_string(&hba).is_ok_and(|text| text == HBA);
        if hba_is_ours && let Some(password) = read_secret(&done)? {
            return Ok(password);
        }
        let pending = self.pgdata.join(PENDING_PASSWORD_FILE);
        let password = match read_secret(&done)? {
            Some(password) => password,
            None => match read_secret(&pending)? {
                Some(password) => password,
                None => {
                    let bytes: [u8; 32] = rand::random();
                    let password = Password(bytes.iter().map(|b| format!("{b:02x}")).collect());
                    write_secret(&pending, &password, owner)?;
                    password
                }
            },
        };
        tracing::info!(dir = %self.pgdata.display(), "private PostgreSQL cluster: password authentication set up");
        // Until the reload below the server may still trust local
        // connections, but only its own user reaches its socket.
        let options = self.connect_options("postgres").password(&password.0);
        let refused = self.connect_options("postgres").password("");
        // Only the verifier reaches the server (and its log, if it ever
        // logs the statement); base64 and `$:` need no escaping.
        let set_password = format!(
            "alter role postgres password '{}'",
            scram_verifier(&password.0)
        );
        block_on(async {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect_with(&options).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(set_password))
                .execute(&mut conn)
                .await?;
            // Written in place: the file keeps its owner, the cluster's user.
            std::fs::write(&hba, HBA).map_err(sqlx::Error::Io)?;
            sqlx::query("select pg_reload_conf()")
                .execute(&mut conn)
                .await?;
            conn.close().await?;
            // The reload is asynchronous: wait until a connection without
            // the password is turned away.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                match sqlx::PgConnection::connect_with(&refused).await {
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("28P01") => {
                        return Ok(());
                    }
                    Ok(conn) => conn.close().await?,
                    Err(e) => return Err(e),
                }
                if std::time::Instant::now() > deadline {
                    return Err(sqlx::Error::Protocol(
                        "the server still lets connections in without a password".into(),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .map_err(|e| ClusterError::Password(e.to_string()))?;
        if pending.exists() {
            std::fs::rename(&pending, &done).map_err(io_err(&done))?;
        }
        Ok(password)
    }

    /// The directory holding the server's socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Whether this process started the server (rather than adopting it).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    pub fn is_running(&self) -> bool {
        self.command("pg_ctl", &["-D", &self.pgdata.to_string_lossy(), "status"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Connection options for `database` over the cluster's socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username("postgres")
            .password(&self.password.0)
            .database(database)
    }

    /// A connection URL for `database`, for child processes. It holds the
    /// password: hand it over in the environment, never on a command line.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@localhost:{PORT}/{database}?host={}",
            self.password.0,
            self.socket_dir.display()
        )
    }

    /// Stops the server (fast shutdown: clients are disconnected, nothing is lost).
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.pgdata.to_string_lossy(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        )?;
        tracing::info!(dir = %self.pgdata.display(), "private PostgreSQL cluster stopped");
        Ok(())
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin_dir.join(program);
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            .current_dir(&self.pgdata)
            .env("LC_ALL", "C.UTF-8");
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), ClusterError> {
        let mut cmd = self.command(program, args);
        // The server inherits no pipe of ours: it outlives `pg_ctl start`.
        cmd.stdin(std::process::Stdio::null());
        let output = cmd.output().map_err(io_err(&self.bin_dir))?;
        if output.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        if program == "pg_ctl"
            && let Ok(log) = std::fs::read_to_string(self.pgdata.join("server.log"))
        {
            {
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                text.push_str("\nserver.log:\n");
                text.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
        }
        Err(ClusterError::Command {
            command: format!("{program} {}", args.join(" ")),
            status: output.status.to_string(),
            output: text.trim().to_owned(),
        })
    }
}

/// Makes `dir` a directory only the cluster's user (`owner`, else ourselves)
/// can enter, or checks that it is one. One left by an earlier release, open
/// to everyone, is closed; one of another user is refused, since whoever owns
/// it could put their own socket in it.
fn private_dir(dir: &Path, owner: Option<(u32, u32)>) -> Result<(), ClusterError> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(io_err(dir))?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(dir)(e)),
    }
    let expected = owner.map(|(uid, _)| uid).or_else(effective_uid);
    let meta = std::fs::symlink_metadata(dir).map_err(io_err(dir))?;
    if !meta.is_dir() || Some(meta.uid()) != expected {
        return Err(ClusterError::UnsafeSocketDir(dir.to_owned()));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err(dir))?;
    }
    Ok(())
}

/// The SCRAM-SHA-256 verifier PostgreSQL keeps for `password` (RFC 5802,
/// 7677). One iteration: the password is 256 random bits, which stretching
/// would not make harder to guess, while every connection would pay for it
/// (4096 iterations, PostgreSQL's default, cost tens of milliseconds each in
/// the tests' unoptimised builds).
fn scram_verifier(password: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use sha2::{Digest as _, Sha256};
    let salt: [u8; 16] = rand::random();
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let salted = hmac_sha256(password.as_bytes(), &first);
    let stored_key = Sha256::digest(hmac_sha256(&salted, b"Client Key"));
    let server_key = hmac_sha256(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256$1:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

/// A secret file's text, if the file exists.
fn read_secret(path: &Path) -> Result<Option<Password>, ClusterError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(Password(text.trim().to_owned()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Writes a new secret file readable by its owner only, the cluster's user.
fn write_secret(
    path: &Path,
    secret: &Password,
    owner: Option<(u32, u32)>,
) -> Result<(), ClusterError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    writeln!(file, "{}", secret.0)
        .and_then(|()| file.sync_all())
        .map_err(io_err(path))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_err(path))?;
    }
    Ok(())
}

/// Runs `future` to completion from synchronous code, whether or not the
/// caller is itself inside a runtime: on a thread of its own.
fn block_on<T: Send>(future: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the cluster's setup")
                    .block_on(future)
            })
            .join()
            .expect("the cluster's setup does not panic")
    })
}

fn check_traversable(dir: &Path) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    for ancestor in dir.ancestors().skip(1) {
        let mode = std::fs::metadata(ancestor)
            .map_err(io_err(ancestor))?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            return Err(ClusterError::Unreachable(ancestor.to_owned()));
        }
    }
    Ok(())
}

/// A stable short hash for naming a socket directory.
fn fxhash(path: &Path) -> u64 {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
}
