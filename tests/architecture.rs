//! ARCHITECTURE.md's arrows are the workspace's dependencies: every arrow is a
//! `[dependencies]` entry of a Cargo.toml, and every such entry between
//! bouture crates is an arrow. A change to either without the other fails
//! here.

// Test code: panicking on an unexpected value is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `bouture-x` -> `x`; the root package is `bouture (facade)` in the document.
fn short(package: &str) -> String {
    match package {
        "bouture" => "bouture (facade)".to_owned(),
        other => other.strip_prefix("bouture-").unwrap_or(other).to_owned(),
    }
}

/// The bouture crates named in the `[dependencies]` table of a Cargo.toml.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut in_table = false;
    let mut found = BTreeSet::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_table = line == "[dependencies]";
            continue;
        }
        if in_table && line.starts_with("bouture") {
            let name = line
                .split(['.', '=', ' '])
                .next()
                .unwrap_or_default()
                .to_owned();
            found.insert(short(&name));
        }
    }
    found
}

fn package_name(manifest: &str) -> String {
    manifest
        .lines()
        .skip_while(|line| line.trim() != "[package]")
        .find_map(|line| line.trim().strip_prefix("name = "))
        .map(|name| name.trim_matches('"').to_owned())
        .expect("a [package] name")
}

/// Every package of the workspace and its bouture dependencies, from the
/// Cargo.toml files.
fn cargo_graph(root: &Path) -> Graph {
    let mut manifests = vec![root.join("Cargo.toml"), root.join("xtask/Cargo.toml")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        manifests.push(entry.unwrap().path().join("Cargo.toml"));
    }
    manifests
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            (short(&package_name(&text)), dependencies(&text))
        })
        .collect()
}

/// The arrows block of ARCHITECTURE.md: `a, b ──> c, d  (comment)` lines,
/// continued on lines that start with spaces; `every library crate except
/// x and y`, `no bouture crate`.
fn documented_graph(document: &str, packages: &BTreeSet<String>) -> Graph {
    let section = document
        .split("## Arrows")
        .nth(1)
        .expect("an Arrows section");
    let block = section.split("```").nth(1).expect("an arrows block");
    let mut lines: Vec<String> = Vec::new();
    for line in block.lines().filter(|line| !line.trim().is_empty()) {
        if line.starts_with(' ') {
            let last = lines.last_mut().expect("a continued line");
            last.push(' ');
            last.push_str(line.trim());
        } else {
            lines.push(line.to_owned());
        }
    }
    let libraries: BTreeSet<String> = packages
        .iter()
        .filter(|name| !["bouture (facade)", "cli", "xtask"].contains(&name.as_str()))
        .cloned()
        .collect();
    let mut graph = Graph::new();
    for line in lines {
        let (left, right) = line.split_once("──>").expect("an arrow");
        let right = right.split('(').next().unwrap_or_default().trim();
        let targets: BTreeSet<String> = if right == "no bouture crate" {
            BTreeSet::new()
        } else if let Some(except) = right.strip_prefix("every library crate except ") {
            let excluded: Vec<&str> = except.split([',', ' ']).collect();
            libraries
                .iter()
                .filter(|name| !excluded.contains(&name.as_str()))
                .cloned()
                .collect()
        } else {
            right
                .split(',')
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect()
        };
        for source in left.split(',').map(str::trim) {
            let previous = graph.insert(source.to_owned(), targets.clone());
            assert!(previous.is_none(), "{source} has two lines of arrows");
        }
    }
    graph
}

#[test]
fn the_arrows_of_architecture_md_are_the_dependencies_of_the_cargo_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = cargo_graph(root);
    let packages: BTreeSet<String> = cargo.keys().cloned().collect();
    let document = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let documented = documented_graph(&document, &packages);
    let mut problems = Vec::new();
    for (package, deps) in &cargo {
        match documented.get(package) {
            None => problems.push(format!("{package}: no line in ARCHITECTURE.md")),
            Some(arrows) if arrows != deps => problems.push(format!(
                "{package}: ARCHITECTURE.md says {arrows:?}, Cargo.toml has {deps:?}"
            )),
            Some(_) => {}
        }
    }
    for package in documented.keys() {
        if !cargo.contains_key(package) {
            problems.push(format!("{package}: in ARCHITECTURE.md but not a package"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
