//! The control plane's shape, checked from its sources: the HTTP layer (`api`) is an edge that
//! nothing else imports, and the domain modules depend on each other in one direction only (no
//! cycles). A module's dependencies are the `crate::<module>` paths (and `super::` paths that
//! climb to the crate root) written in its files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate's top-level modules and the modules each one names.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let text = without_comments(&text);
        let deps = graph.entry(module.clone()).or_default();
        for used in named_modules(&text) {
            if used != module {
                deps.insert(used);
            }
        }
    }
    graph
}

/// The code of a file without its `//` comments (docs may mention any module).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Top-level modules named as `crate::name` in `text`, including inside `use crate::{a, b}`.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The shared context: it holds each domain's state types (limits, hub, media plane) and every
/// domain takes it, so it is left out of the cycle check; it must name no domain's hooks
/// (the crate root registers them), which the last test checks.
const ROOT: &str = "app";

#[test]
fn nothing_outside_the_http_layer_imports_it() {
    let graph = dependencies();
    let offenders: Vec<&String> = graph
        .iter()
        .filter(|(module, deps)| module.as_str() != "api" && deps.contains("api"))
        .map(|(module, _)| module)
        .collect();
    assert!(
        offenders.is_empty(),
        "modules importing crate::api: {offenders:?}"
    );
}

#[test]
fn the_domain_modules_form_no_cycles() {
    let mut graph = dependencies();
    graph.remove("api");
    graph.remove(ROOT);
    for deps in graph.values_mut() {
        deps.remove("api");
        deps.remove(ROOT);
    }
    // Depth-first search for a back edge, reporting the cycle it closes.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("a dependency cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_checker_sees_imports_and_cycles() {
    // The parser finds plain, grouped and nested paths.
    let found = named_modules(
        "use crate::voice::store;\nuse crate::{db::Db, error::Error};\nlet x = crate::media::X;",
    );
    let expected: BTreeSet<String> = ["voice", "db", "error", "media"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, expected);
    assert!(
        named_modules(&without_comments(
            "//! see `crate::api`\nlet a = 1; // crate::api"
        ))
        .is_empty()
    );
    // And the real graph has the edges the layout promises (so an empty graph cannot pass).
    let graph = dependencies();
    assert!(graph["voice"].contains("communities"));
    assert!(graph["api"].contains("voice"));
    assert!(graph["voice"].contains(ROOT));
    assert!(
        !graph[ROOT].contains("voice"),
        "app must not name a domain's hooks"
    );
}
