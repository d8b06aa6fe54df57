//! `deploy/` checked offline, since no container engine or cluster runs here:
//! each kustomize overlay is built with the pinned kubectl (its kustomize)
//! and every manifest validated against the Kubernetes JSON schemas of the
//! oldest and newest versions we support (kubernetes-validate, strict); the
//! custom resources (CloudNativePG `Cluster`, `ScheduledBackup`, the Barman
//! Cloud `ObjectStore`, the `ServiceMonitor`) against schemas of our own in
//! `deploy/schemas/`, written from their documentation, and the references
//! between objects; the compose file's services, secrets, volumes and files;
//! the systemd unit with `systemd-analyze verify`; and every setting these
//! files give, through the binary's own configuration loader.
//!
//! The tools live in `target/deploy-tools` (or `PASSERELLE_DEPLOY_TOOLS`),
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
    let dir = std::env::var_os("PASSERELLE_DEPLOY_TOOLS")
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
    }
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
