//! Throwaway PostgreSQL servers on loopback TCP, for the tests that need
//! what the private cluster does not give: a streaming standby made by
//! `pg_basebackup -R`, or TLS. Run as the `postgres` user when the tests run
//! as root, as the private cluster is; stopped and removed on drop.

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether the server programs run as `postgres` (the tests run as root).
fn as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Where the server programs are: beside `initdb` once links are followed
/// (a `PATH` directory may link `initdb` and `pg_ctl` only).
fn bin_dir() -> PathBuf {
    let dir = passerelle_store::cluster::find_binaries().expect("PostgreSQL's server programs");
    std::fs::canonicalize(dir.join("initdb"))
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or(dir)
}

/// A directory of this test's, which the server user owns.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "passerelle-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        if as_root() {
            run(Command::new("chown").args(["postgres:postgres"]).arg(&path));
        }
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Makes `file` (written by us) the server user's, readable by it only.
    pub fn give(&self, file: &Path) {
        if as_root() {
            run(Command::new("chown").arg("postgres:postgres").arg(file));
        }
        run(Command::new("chmod").arg("0600").arg(file));
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server program, as the server user.
pub fn program(name: &str) -> Command {
    let path = bin_dir().join(name);
    let mut cmd = if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    };
    cmd.env("LC_ALL", "C.UTF-8");
    cmd
}

pub fn run(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One PostgreSQL server listening on 127.0.0.1 at `port`.
pub struct Server {
    pub data: PathBuf,
    pub port: u16,
    running: bool,
}

impl Server {
    /// A new primary: `initdb` with `hba` as its `pg_hba.conf` and
    /// `settings` added to its configuration; not started.
    pub fn init(scratch: &Scratch, name: &str, hba: &str, settings: &str) -> Self {
        let data = scratch.path().join(name);
        run(program("initdb")
            .args([
                "--no-sync",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--auth=trust",
                "-D",
            ])
            .arg(&data));
        let port = free_port();
        append(
            &data.join("postgresql.conf"),
            &format!(
                "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n\
                 fsync = off\nfull_page_writes = off\n{settings}\n"
            ),
        );
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        Self {
            data,
            port,
            running: false,
        }
    }

    /// A streaming standby of `primary`, made by `pg_basebackup -R`
    /// (which writes `primary_conninfo` and `standby.signal`); not started.
    pub fn standby_of(primary: &Server, scratch: &Scratch, name: &str) -> Self {
        let data = scratch.path().join(name);
        run(program("pg_basebackup")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "-X", "stream"])
            .args(["--checkpoint=fast", "--no-sync", "-p"])
            .arg(primary.port.to_string())
            .arg("-D")
            .arg(&data));
        let port = free_port();
        append(
            &data.join("postgresql.auto.conf"),
            &format!("port = {port}\nhot_standby = on\nwal_receiver_status_interval = 1s\n"),
        );
        Self {
            data,
            port,
            running: false,
        }
    }

    pub fn start(&mut self) {
        run(program("pg_ctl")
            .args(["-w", "-t", "30", "-l"])
            .arg(self.data.join("server.log"))
            .arg("-D")
            .arg(&self.data)
            .arg("start")
            .stdout(Stdio::null()));
        self.running = true;
    }

    pub fn stop(&mut self) {
        if self.running {
            run(program("pg_ctl")
                .args(["-w", "-m", "fast", "-D"])
                .arg(&self.data)
                .arg("stop"));
            self.running = false;
        }
    }

    /// Stops the server as a crash would (`-m immediate`): no shutdown
    /// checkpoint, so the next start recovers from the write-ahead log and
    /// empties the unlogged tables.
    pub fn crash(&mut self) {
        if self.running {
            run(program("pg_ctl")
                .args(["-w", "-m", "immediate", "-D"])
                .arg(&self.data)
                .arg("stop"));
            self.running = false;
        }
    }

    /// Creates `database`, empty, on the running server.
    pub async fn create_database(&self, database: &str) {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres", ""))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {database}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }

    /// The URL of `database` as user `postgres`, with `query` appended.
    pub fn url(&self, database: &str, query: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}{query}",
            self.port
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.running {
            let _ = program("pg_ctl")
                .args(["-m", "immediate", "-D"])
                .arg(&self.data)
                .arg("stop")
                .output();
        }
    }
}

fn append(file: &Path, text: &str) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}
