//! The dependency direction is an invariant: `passerelle → web → graphql →
//! app → {projections, store, domain}`, `notify → app`; `domain` depends on
//! nothing of ours and on no I/O crate. Checked over `cargo metadata`.
//! The one exception, named in `allowed_optional`: an optional dependency
//! behind a feature that is off by default, which only the gateway turns on.

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

/// Optional dependencies a crate may have behind a feature of its own that
/// is off by default, as (feature, dependency): the domain's enums (and the
/// projections', accounts' and notify's own) derive `async_graphql::Enum`
/// for the gateway alone, so
/// the API exposes them without copies. Built without the feature, the
/// crate does not reach the dependency, which is what the checks below see.
fn allowed_optional(krate: &str) -> &'static [(&'static str, &'static str)] {
    match krate {
        "passerelle-domain"
        | "passerelle-projections"
        | "passerelle-accounts"
        | "passerelle-notify" => &[("graphql", "async-graphql")],
        _ => &[],
    }
}

/// Whether `dep` is one of `package`'s allowed optional dependencies, behind
/// a feature its default features leave off.
fn optional_and_off(package: &Value, dep: &str) -> bool {
    let name = package["name"].as_str().unwrap_or_default();
    let defaults: Vec<&str> = package["features"]["default"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let declared_optional = package["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|d| d["name"] == dep && d["optional"] == true && d["kind"].is_null());
    declared_optional
        && allowed_optional(name).iter().any(|(feature, allowed)| {
            *allowed == dep
                && !defaults.contains(feature)
                && package["features"][*feature]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x == &format!("dep:{dep}")))
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
    let packages: BTreeMap<&str, &Value> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
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
            // The workspace's features are unified in `resolve`: an
            // allowed optional dependency shows there although the crate,
            // built on its own, does not have it.
            let dep_name = names[dep["pkg"].as_str().unwrap()];
            let off = optional_and_off(packages[node["id"].as_str().unwrap()], dep_name);
            if normal && !off {
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

// Inside a crate, no file imports another that imports it back, directly or
// not: each file is a module, and a path to another module (`crate::a::b`,
// `super::x`, a child's `x::…`) is an edge. Comments and a file's unit tests
// are left out; a path to an item of a module counts as one to the module.

/// Each module of a crate's `src/` (`a::b`, the root as ``) and its file.
fn modules(src: &std::path::Path) -> BTreeMap<String, std::path::PathBuf> {
    let mut found = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = relative
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("lib" | "main" | "mod")
                ) {
                    parts.pop();
                }
                found.insert(parts.join("::"), path);
            }
        }
    }
    found
}

/// The code of a file without its comments and its `#[cfg(test)]` module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths written in code: runs of identifiers joined by `::`, with the
/// groups of `use` paths (`a::{b, c::d}`) spelled out (`a::b`, `a::c::d`).
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // For each open brace: the prefix of the `use` group it opens, if any.
    let mut braces: Vec<Option<Vec<String>>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut chars = code.chars().peekable();
    let prefix = |braces: &Vec<Option<Vec<String>>>| braces.last().cloned().flatten();
    let emit = |current: &mut Vec<String>,
                braces: &Vec<Option<Vec<String>>>,
                out: &mut Vec<Vec<String>>| {
        match prefix(braces) {
            Some(p) if !current.is_empty() => {
                out.push(p.into_iter().chain(current.drain(..)).collect());
            }
            _ if current.len() > 1 => out.push(std::mem::take(current)),
            _ => current.clear(),
        }
    };
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            current.push(std::mem::take(&mut word));
        }
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            if chars.peek() == Some(&'{') {
                chars.next();
                let group = prefix(&braces)
                    .unwrap_or_default()
                    .into_iter()
                    .chain(current.drain(..))
                    .collect();
                braces.push(Some(group));
            }
            continue;
        }
        if c.is_whitespace() && !current.is_empty() && chars.peek() == Some(&':') {
            continue;
        }
        emit(&mut current, &braces, &mut out);
        match c {
            '{' => braces.push(None),
            '}' => {
                braces.pop();
            }
            _ => {}
        }
    }
    out
}

/// The longest module that a path starting at `base` names.
fn module_of(
    base: &[String],
    path: &[String],
    modules: &BTreeMap<String, std::path::PathBuf>,
) -> Option<String> {
    let full: Vec<String> = base.iter().chain(path).cloned().collect();
    (0..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

/// Each module's imports of the crate's other modules.
fn imports(src: &std::path::Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let me: Vec<String> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").map(str::to_owned).collect()
        };
        let mut edges = BTreeSet::new();
        for path in paths(&code_of(&std::fs::read_to_string(file).unwrap())) {
            let target = match path[0].as_str() {
                "crate" => module_of(&[], &path[1..], &modules),
                "super" => module_of(&me[..me.len().saturating_sub(1)], &path[1..], &modules),
                "self" => module_of(&me, &path[1..], &modules),
                // A child module named from its parent.
                _ => module_of(&me, &path, &modules).filter(|t| t.len() > module.len()),
            };
            if let Some(t) = target.filter(|t| t != module) {
                edges.insert(t);
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

/// A cycle in the graph, if any, as the modules along it.
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        at: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == at) {
            let mut cycle = path[start..].to_vec();
            cycle.push(at.to_owned());
            return Some(cycle);
        }
        if !done.insert(at.to_owned()) {
            return None;
        }
        path.push(at.to_owned());
        for next in graph.get(at).into_iter().flatten() {
            if let Some(c) = visit(next, graph, done, path) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut done, &mut Vec::new()))
}

#[test]
fn no_file_of_a_crate_imports_one_that_imports_it_back() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![root.join("src")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        sources.push(entry.unwrap().path().join("src"));
    }
    let cycles: Vec<String> = sources
        .iter()
        .filter_map(|src| {
            a_cycle(&imports(src)).map(|c| format!("{}: {}", src.display(), c.join(" → ")))
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles between files:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_cycle_check_sees_a_cycle_through_the_root() {
    let dir = std::env::temp_dir().join(format!("passerelle-cycle-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(
        dir.join("lib.rs"),
        "mod a;\npub use a::b::Thing;\nfn x() {}\n",
    )
    .unwrap();
    std::fs::write(dir.join("a/mod.rs"), "pub mod b;\n").unwrap();
    std::fs::write(
        dir.join("a/b.rs"),
        "// crate::nothing\nfn y() { crate::x() }\n",
    )
    .unwrap();
    let cycle = a_cycle(&imports(&dir));
    std::fs::write(dir.join("a/b.rs"), "fn y() {}\n").unwrap();
    let none = a_cycle(&imports(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(cycle, Some(vec!["".into(), "a::b".into(), "".into()]));
    assert_eq!(none, None);
}

#[test]
fn only_the_named_optional_dependency_behind_an_off_feature_is_left_out() {
    let domain = |default: &[&str], optional: bool| {
        serde_json::json!({
            "name": "passerelle-domain",
            "features": { "default": default, "graphql": ["dep:async-graphql"] },
            "dependencies": [
                { "name": "async-graphql", "optional": optional, "kind": null },
                { "name": "sqlx", "optional": true, "kind": null },
            ],
        })
    };
    assert!(optional_and_off(&domain(&[], true), "async-graphql"));
    // On by default, or not optional: the domain would reach it.
    assert!(!optional_and_off(
        &domain(&["graphql"], true),
        "async-graphql"
    ));
    assert!(!optional_and_off(&domain(&[], false), "async-graphql"));
    // Any other optional dependency counts.
    assert!(!optional_and_off(&domain(&[], true), "sqlx"));
}
