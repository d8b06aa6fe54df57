//! The dependency direction is an invariant: `passerelle → web → graphql →
//! app → {projections, store, domain}`, `notify → app`; `domain` depends on
//! nothing of ours and on no I/O crate. Checked over `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Which workspace crates each crate may depend on (normal dependencies).
fn allowed_internal(krate: &str) -> Option<&'static [&'static str]> {
    Some(match krate {
        "passerelle-domain" | "passerelle-store" => &[],
        "passerelle-accounts" => &["passerelle-domain"],
        "passerelle-projections" => &["passerelle-store", "passerelle-domain"],
        "passerelle-app" => &[
            "passerelle-domain",
            "passerelle-store",
            "passerelle-projections",
        ],
        // Staff addresses and magic links come from accounts.
        "passerelle-notify" => &[
            "passerelle-accounts",
            "passerelle-app",
            "passerelle-domain",
            "passerelle-projections",
            "passerelle-store",
        ],
        // The gateway queues the mails it is asked for (a magic link) and
        // shows deliveries and job runs.
        "passerelle-graphql" => &[
            "passerelle-accounts",
            "passerelle-notify",
            "passerelle-app",
            "passerelle-domain",
            "passerelle-projections",
            "passerelle-store",
        ],
        // Histories for the demo, the benchmarks and the tests, through the
        // command path.
        "passerelle-demo" => &["passerelle-app", "passerelle-domain"],
        "passerelle-web" => &[
            "passerelle-accounts",
            "passerelle-graphql",
            "passerelle-app",
            "passerelle-domain",
            "passerelle-projections",
        ],
        "passerelle" => &[
            "passerelle-web",
            "passerelle-demo",
            "passerelle-graphql",
            "passerelle-notify",
            "passerelle-accounts",
            "passerelle-app",
            "passerelle-projections",
            "passerelle-store",
            "passerelle-domain",
        ],
        _ => return None,
    })
}

/// External crates a workspace crate must not reach, even transitively.
fn forbidden_external(krate: &str) -> &'static [&'static str] {
    match krate {
        "passerelle-domain" => &[
            "sqlx",
            "tokio",
            "axum",
            "async-graphql",
            "hyper",
            "reqwest",
            "lettre",
        ],
        "passerelle-store"
        | "passerelle-projections"
        | "passerelle-accounts"
        | "passerelle-app"
        | "passerelle-notify" => &["axum", "async-graphql", "hyper"],
        "passerelle-graphql" => &["axum", "hyper", "async-graphql-axum"],
        _ => &[],
    }
}

fn host_triple() -> &'static str {
    // Set by cargo for build scripts only; the test binary's own target is the host here.
    if cfg!(all(
        target_arch = "x86_64",
        target_os = "linux",
        target_env = "gnu"
    )) {
        "x86_64-unknown-linux-gnu"
    } else if cfg!(all(
        target_arch = "aarch64",
        target_os = "linux",
        target_env = "gnu"
    )) {
        "aarch64-unknown-linux-gnu"
    } else {
        panic!("add this platform's target triple to tests/architecture.rs")
    }
}

/// Normal (non-dev, non-build) dependency edges between packages, by name.
fn dependency_graph() -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        // The host platform only: the other platforms' crates are not downloaded.
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            host_triple(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let members = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| names[id.as_str().unwrap()].to_owned())
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"].as_array().unwrap() {
        let from = names[node["id"].as_str().unwrap()].to_owned();
        for dep in node["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                edges
                    .entry(from.clone())
                    .or_default()
                    .insert(names[dep["pkg"].as_str().unwrap()].to_owned());
            }
        }
    }
    (members, edges)
}

fn reachable(edges: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(next) = todo.pop() {
        for dep in edges.get(&next).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    seen
}

/// Every violation, worded for the person who introduced it.
fn violations(
    members: &BTreeSet<String>,
    edges: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut found = Vec::new();
    for member in members {
        let Some(allowed) = allowed_internal(member) else {
            found.push(format!(
                "{member} is not placed in the layering: add it to tests/architecture.rs"
            ));
            continue;
        };
        for dep in edges.get(member).into_iter().flatten() {
            if members.contains(dep) && !allowed.contains(&dep.as_str()) {
                found.push(format!(
                    "{member} depends on {dep}, against the dependency direction"
                ));
            }
        }
        let all = reachable(edges, member);
        for bad in forbidden_external(member) {
            if all.contains(*bad) {
                found.push(format!("{member} reaches {bad}, which it must not know"));
            }
        }
    }
    found
}

#[test]
fn crates_depend_only_downwards() {
    let (members, edges) = dependency_graph();
    assert!(members.contains("passerelle-domain") && members.contains("passerelle-store"));
    let found = violations(&members, &edges);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_catches_a_wrong_edge() {
    let members: BTreeSet<String> = ["passerelle-domain", "passerelle-store", "passerelle-shiny"]
        .map(String::from)
        .into();
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("passerelle-store", ["passerelle-domain"].as_slice()),
        ("passerelle-domain", &["serde", "tokio"]),
        ("tokio", &["mio"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.iter().map(|s| s.to_string()).collect()))
    .collect();
    let found = violations(&members, &edges);
    assert_eq!(
        found,
        [
            "passerelle-domain reaches tokio, which it must not know",
            "passerelle-shiny is not placed in the layering: add it to tests/architecture.rs",
            "passerelle-store depends on passerelle-domain, against the dependency direction",
        ]
    );
}
