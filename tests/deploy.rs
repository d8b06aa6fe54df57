//! `deploy/` checked offline, since no container engine or cluster runs here:
//! each kustomize overlay is built with the pinned kubectl (its kustomize)
//! and every manifest validated against the Kubernetes JSON schemas of the
//! oldest and newest versions we support (kubernetes-validate, strict); the
//! custom resources (CloudNativePG `Cluster`, `ScheduledBackup`, the Barman
//! Cloud `ObjectStore`, the `ServiceMonitor`) against schemas of our own in
//! `deploy/schemas/`, written from their documentation, and the references
//! between objects; the compose file's services, secrets, volumes and files;
//! the systemd unit with `systemd-analyze verify`; and every setting these
//! files give, through the binary's own configuration loader; and the
//! service itself on a read-only root filesystem (as root, with `unshare`).
//!
//! The tools live in `target/deploy-tools` (or `DEPLOY_CHECK_TOOLS`),
//! a Python environment `scripts/test` makes with pinned versions and that
//! sets `REQUIRE_DEPLOY_CHECKS=1`, which makes their absence an error.
//! Without it, a machine lacking them skips these tests, saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Kubernetes releases the manifests are validated against: the oldest
/// still supported by the major distributions, and the newest.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
const OVERLAYS: [&str; 2] = ["small", "territory"];

struct Tools {
    kubectl: PathBuf,
    validate: PathBuf,
    python: PathBuf,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn required() -> bool {
    std::env::var("REQUIRE_DEPLOY_CHECKS").is_ok_and(|v| v == "1")
}

fn skip_or_fail(message: &str) -> Option<Tools> {
    assert!(!required(), "{message} (REQUIRE_DEPLOY_CHECKS=1)");
    eprintln!("skipped: {message}; scripts/test installs them");
    None
}

fn tools() -> Option<Tools> {
    let dir = std::env::var_os("DEPLOY_CHECK_TOOLS")
        .map_or_else(|| root().join("target/deploy-tools"), PathBuf::from);
    let bin = dir.join("bin");
    let tools = Tools {
        kubectl: bin.join("kubectl"),
        validate: bin.join("kubernetes-validate"),
        python: bin.join("python3"),
    };
    for tool in [&tools.kubectl, &tools.validate, &tools.python] {
        if !tool.is_file() {
            return skip_or_fail(&format!("the deploy checks' tools: no {}", tool.display()));
        }
    }
    Some(tools)
}

fn run(command: &mut Command) -> Output {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        output.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("deploy")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds an overlay into `dir/<overlay>.yaml`.
fn build_overlay(tools: &Tools, overlay: &str, dir: &Path) -> PathBuf {
    let built = run(Command::new(&tools.kubectl)
        .arg("kustomize")
        .arg(root().join("deploy/kubernetes/overlays").join(overlay)));
    let path = dir.join(format!("{overlay}.yaml"));
    std::fs::write(&path, &built.stdout).unwrap();
    path
}

#[test]
fn kustomize_overlays_build_and_every_manifest_meets_its_schema() {
    let Some(tools) = tools() else { return };
    let dir = scratch("overlays");
    for overlay in OVERLAYS {
        let built = build_overlay(&tools, overlay, &dir);
        for version in KUBERNETES_VERSIONS {
            run(Command::new(&tools.validate)
                .args(["--strict", "--quiet", "--no-warn", "-k", version])
                .arg(&built));
        }
        run(Command::new(&tools.python)
            .arg(root().join("deploy/check.py"))
            .arg("kubernetes")
            .arg(&built));
    }
}

#[test]
fn overlays_differ_in_size_only_as_documented() {
    let Some(tools) = tools() else { return };
    let dir = scratch("sizes");
    let small = std::fs::read_to_string(build_overlay(&tools, "small", &dir)).unwrap();
    let territory = std::fs::read_to_string(build_overlay(&tools, "territory", &dir)).unwrap();
    assert!(small.contains("maxReplicas: 1"), "small: one replica");
    assert!(
        territory.contains("minReplicas: 3"),
        "territory: three replicas at least"
    );
    for built in [&small, &territory] {
        // PostgreSQL keeps a primary and two synchronous-quorum standbys in both.
        assert!(built.contains("instances: 3"));
        assert!(built.contains("method: any"));
        assert!(built.contains("readOnlyRootFilesystem: true"));
        assert!(built.contains("namespace: passerelle"));
        // TLS to PostgreSQL, checked against the Cluster's CA.
        assert!(built.contains("value: verify-full"));
        assert!(built.contains("name: passerelle-db-ca"));
    }
    // The territory's dashboards and lists read from the standbys, the URL
    // (with its password) from a file, never from the environment.
    assert!(territory.contains("name: PASSERELLE_DATABASE__READ_URL_FILE"));
    assert!(territory.contains("@passerelle-db-ro"));
    assert!(!territory.contains("PGPASSWORD"));
    assert!(!territory.contains("name: PASSERELLE_DATABASE__READ_URL\n"));
    assert!(!small.contains("PASSERELLE_DATABASE__READ_URL"));
}

#[test]
fn compose_file_names_only_what_exists() {
    let Some(tools) = tools() else { return };
    run(Command::new(&tools.python)
        .arg(root().join("deploy/check.py"))
        .arg("compose")
        .arg(root().join("deploy/compose.yaml")));
}

#[test]
fn every_setting_deploy_gives_is_one_the_service_accepts() {
    let Some(tools) = tools() else { return };
    let dir = scratch("settings");
    let built: Vec<PathBuf> = OVERLAYS
        .iter()
        .map(|overlay| build_overlay(&tools, overlay, &dir))
        .collect();
    run(Command::new(&tools.python)
        .arg(root().join("deploy/check.py"))
        .arg("settings")
        .arg(env!("CARGO_BIN_EXE_passerelle"))
        .args(&built));
}

#[test]
fn systemd_unit_verifies_with_the_built_binary() {
    let Ok(found) = Command::new("systemd-analyze").arg("--version").output() else {
        skip_or_fail("systemd-analyze is not installed");
        return;
    };
    assert!(found.status.success());
    let dir = scratch("systemd");
    // The unit as installed, with the binary where this build put it.
    let unit = std::fs::read_to_string(root().join("deploy/systemd/passerelle.service"))
        .unwrap()
        .replace(
            "/usr/local/bin/passerelle",
            env!("CARGO_BIN_EXE_passerelle"),
        );
    let path = dir.join("passerelle.service");
    std::fs::write(&path, unit).unwrap();
    let output = run(Command::new("systemd-analyze").arg("verify").arg(&path));
    // Unknown keys and bad values are only warned about, on stderr.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("passerelle.service"))
        .collect();
    assert!(warnings.is_empty(), "{}", warnings.join("\n"));
}

#[test]
fn containerfile_builds_locked_and_runs_unprivileged() {
    let text = std::fs::read_to_string(root().join("deploy/container/Containerfile")).unwrap();
    for needed in [
        "cargo build --release --locked",
        "USER 10001:10001",
        "VOLUME [\"/var/lib/passerelle\"]",
        "http://127.0.0.1:8080/live",
        "ENTRYPOINT [\"/usr/local/bin/passerelle\"]",
        "CMD [\"serve\"]",
        "org.opencontainers.image.licenses",
    ] {
        assert!(text.contains(needed), "the Containerfile lacks {needed}");
    }
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == "target/"),
        ".dockerignore keeps target/ out"
    );
    // The commands the images and unit run are the binary's.
    let help = run(Command::new(env!("CARGO_BIN_EXE_passerelle")).arg("--help"));
    let help = String::from_utf8_lossy(&help.stdout);
    for command in ["serve", "migrate"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "passerelle has no `{command}`:\n{help}"
        );
    }
}

/// What the container and the unit promise: with the database URL and the
/// master key from files and an SMTP server set, `serve` starts, answers
/// `/live` and `/ready`, logs JSON and stops on SIGTERM with the whole
/// filesystem read-only and an empty data directory, in which it writes
/// nothing. Run in a mount namespace of its own (`unshare`, as root).
#[tokio::test]
async fn the_service_runs_on_a_read_only_root_filesystem() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let has_unshare = Command::new("unshare")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !is_root || !has_unshare {
        skip_or_fail("a read-only root filesystem needs root and unshare");
        return;
    }
    let db = passerelle_store::testkit::TestDb::new().await;
    let dir = scratch("read-only");
    let secrets = dir.join("secrets");
    let data = dir.join("data");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(secrets.join("database-url"), format!("{}\n", db.url())).unwrap();
    std::fs::write(
        secrets.join("master-key"),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    )
    .unwrap();
    // The data directory gets an empty tmpfs of its own; everything else,
    // /tmp and the secrets included, is read-only.
    let script = r#"set -e
mount --bind / /
mount -o remount,bind,ro /
mount -t tmpfs -o size=8m,mode=0700 tmpfs "$PASSERELLE_DATA_DIR"
if touch /probe-read-only 2>/dev/null; then echo "the root filesystem is writable" >&2; exit 97; fi
cd /
"$1" serve &
child=$!
trap 'kill -TERM $child' TERM
set +e
wait $child
status=$?
# A wait cut short by the signal: the second one gives the server's status.
if [ $status -gt 128 ]; then wait $child; status=$?; fi
echo "data directory after stop: $(ls -A "$PASSERELLE_DATA_DIR" | tr '\n' ' ')|" >&2
exit $status
"#;
    let mut child = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(env!("CARGO_BIN_EXE_passerelle"))
        // Only what this test sets: no setting of the caller's leaks in.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL_FILE", secrets.join("database-url"))
        .env("PASSERELLE_MASTER_KEY_FILE", secrets.join("master-key"))
        .env("PASSERELLE_DATA_DIR", &data)
        .env("PASSERELLE_BIND", "127.0.0.1:0")
        .env("PASSERELLE_LOG_FORMAT", "json")
        // Mail goes to SMTP, not to files; none is sent in this test.
        .env("PASSERELLE_MAIL__SMTP_URL", "smtp://127.0.0.1:9")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("unshare runs");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let address = loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("passerelle did not listen:\n{}", lines.join("\n")));
        lines.push(line.clone());
        let json: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("not a JSON log line: {line}\n{}", lines.join("\n")));
        if let Some(address) = json["address"].as_str() {
            break address.to_owned();
        }
    };
    for path in ["/live", "/ready"] {
        assert_eq!(http_status(&address, path), 200, "{path}");
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(5)) {
        lines.push(line);
    }
    assert!(status.success(), "{status}:\n{}", lines.join("\n"));
    let last = lines.last().cloned().unwrap_or_default();
    assert_eq!(
        last,
        "data directory after stop: |",
        "nothing is written:\n{}",
        lines.join("\n")
    );
    for line in &lines[..lines.len() - 1] {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
}

/// The status code of a GET, over a plain connection.
fn http_status(address: &str, path: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer from {path}: {answer}"))
}
