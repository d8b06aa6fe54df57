//! A private PostgreSQL cluster owned by the process: created with the
//! machine's `initdb` on first use, started with `pg_ctl` on a Unix socket
//! only (no TCP port), stopped on request. Used by `passerelle serve` when no
//! `DATABASE_URL` is given, and by the tests.
//!
//! PostgreSQL refuses to run as root, and CI and containers often are root:
//! then the cluster runs as the `postgres` system user, owner of its directory.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::postgres::PgConnectOptions;

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
}

const PORT: u16 = 5432;
/// Unix socket paths are limited to 107 bytes on Linux.
const SOCKET_PATH_MAX: usize = 100;

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
        if run_as_postgres {
            let (uid, gid) = postgres_ids().ok_or(ClusterError::NoPostgresUser)?;
            std::os::unix::fs::chown(&pgdata, Some(uid), Some(gid)).map_err(io_err(&pgdata))?;
            std::fs::set_permissions(&pgdata, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .map_err(io_err(&pgdata))?;
            check_traversable(&pgdata)?;
        }
        let socket_dir = if pgdata.as_os_str().len() + 20 < SOCKET_PATH_MAX {
            pgdata.clone()
        } else {
            let dir = std::env::temp_dir().join(format!("passerelle-pg-{:x}", fxhash(&pgdata)));
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            if run_as_postgres {
                let (uid, gid) = postgres_ids().ok_or(ClusterError::NoPostgresUser)?;
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(io_err(&dir))?;
            }
            dir
        };
        let mut cluster = Self {
            pgdata,
            bin_dir,
            socket_dir,
            run_as_postgres,
            started_here: false,
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
                "-k {} -c listen_addresses='' -p {PORT} -c max_connections={} -c idle_in_transaction_session_timeout=60s",
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
        Ok(cluster)
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
            .database(database)
    }

    /// A connection URL for `database`, for child processes.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost:{PORT}/{database}?host={}",
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
