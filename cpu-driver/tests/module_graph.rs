//! The module graph of both binaries (`src/bin/kernel`, `src/bin/boot`) has no cycles, and
//! `cpu-driver/README.md` states it as it is.
//!
//! A module uses another when its code (comments left out) names `crate::<module>`, directly
//! or in a `use crate::{...}` group. The README lists every module as
//! `<binary>/<module> -> <used modules>` (or `-` for none), top-down: every module a line names
//! is listed below it, so the list reads from the entry down and no module calls upward.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

const BINARIES: [&str; 2] = ["kernel", "boot"];

/// The source with comments removed (line comments and doc comments; the code here has no
/// block comments, and no string holds `//` next to `crate::`).
fn code_of(source: &str) -> String {
    source.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn identifier(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// The modules of the crate that `code` names through `crate::`.
fn uses_of(code: &str) -> BTreeSet<String> {
    let mut uses = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d}`: the first identifier of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphabetic() || c == '_') => {
                        uses.insert(identifier(&group[i..]).to_owned());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            uses.insert(identifier(rest).to_owned());
        }
    }
    uses
}

/// Every module of one binary and the modules it uses (itself left out).
fn graph_of(binary: &str) -> Graph {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin").join(binary);
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        if path.extension().is_some_and(|e| e == "rs") && name != "main" {
            let source = std::fs::read_to_string(&path).expect("module source");
            modules.insert(name.to_owned(), uses_of(&code_of(&source)));
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    for (name, uses) in &mut modules {
        uses.remove(name);
        let unknown: Vec<_> = uses.difference(&names).collect();
        assert!(unknown.is_empty(), "{binary}/{name} names crate::{unknown:?}, which is no module");
    }
    modules
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

/// The README's lines `<binary>/<module> -> a, b` (or `-`), in order.
fn readme_graph(binary: &str) -> Vec<(String, BTreeSet<String>)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    let prefix = format!("{binary}/");
    readme
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|line| line.split_once("->"))
        .map(|(module, uses)| {
            let uses = uses.trim();
            let uses = if uses == "-" {
                BTreeSet::new()
            } else {
                uses.split(',').map(|u| u.trim().to_owned()).collect()
            };
            (module.trim().to_owned(), uses)
        })
        .collect()
}

#[test]
fn use_groups_and_paths_are_read() {
    let code = code_of("use crate::a::x;\nuse crate::{b, c::{d, e}, f};\n// crate::g in a comment\nlet _ = crate::h::y();\n$crate::i::z");
    let expected: BTreeSet<String> = ["a", "b", "c", "f", "h", "i"].into_iter().map(String::from).collect();
    assert_eq!(uses_of(&code), expected);
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".into()].into());
    graph.insert("b".into(), ["c".into()].into());
    graph.insert("c".into(), BTreeSet::new());
    assert_eq!(find_cycle(&graph), None);
    graph.get_mut("c").unwrap().insert("a".into());
    assert_eq!(find_cycle(&graph).map(|c| c.len()), Some(4));
}

#[test]
fn binaries_have_no_module_cycles() {
    for binary in BINARIES {
        let graph = graph_of(binary);
        assert!(graph.contains_key("entry"), "{binary}: {graph:?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!("{binary}: modules call each other in a circle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn readme_lists_the_module_graph_top_down_as_the_code_has_it() {
    for binary in BINARIES {
        let graph = graph_of(binary);
        let listed = readme_graph(binary);
        let as_listed: Graph = listed.iter().cloned().collect();
        assert_eq!(
            as_listed, graph,
            "cpu-driver/README.md's `{binary}/<module> -> ...` lines differ from the code"
        );
        for (at, (module, uses)) in listed.iter().enumerate() {
            let below: BTreeSet<&String> = listed[at + 1..].iter().map(|(m, _)| m).collect();
            let above: Vec<_> = uses.iter().filter(|u| !below.contains(u)).collect();
            assert!(above.is_empty(), "{binary}/{module} uses {above:?}, listed above it in the README");
        }
    }
}
