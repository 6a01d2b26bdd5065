//! The web app's layering, checked on its sources: no file imports, directly or through others,
//! a file that imports it back, and what handlers share comes from `state.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` → `[a, b]`, `src/a/mod.rs` → `[a]`, `src/lib.rs` → `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).expect("under src");
    let mut segments: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        segments.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        segments.pop();
    }
    segments
}

/// The file that defines the longest module prefix of `path`.
fn file_of(path: &[String]) -> PathBuf {
    for n in (1..=path.len()).rev() {
        let base = src().join(path[..n].join("/"));
        let file = base.with_extension("rs");
        if file.exists() {
            return file;
        }
        if base.join("mod.rs").exists() {
            return base.join("mod.rs");
        }
    }
    src().join("lib.rs")
}

/// The code without comments and without the unit tests at the end of the file.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{self, D as E}}` → `a::b`, `a::c`, `a::c::D`, each with the name it brings into
/// scope (`b`, `c`, `E`).
fn expand(tree: &str) -> Vec<(String, String)> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let (path, alias) = match tree.split_once(" as ") {
            Some((path, alias)) => (path.trim(), alias.trim()),
            None => (tree, tree.rsplit("::").next().unwrap_or(tree)),
        };
        let path = path.trim_end_matches("::self");
        let alias = if alias == "self" {
            path.rsplit("::").next().unwrap_or(path)
        } else {
            alias
        };
        return vec![(path.to_string(), alias.to_string())];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(|item| {
            expand(item.trim())
                .into_iter()
                .map(|(rest, alias)| {
                    let path = if rest == "self" {
                        prefix.to_string()
                    } else {
                        format!("{prefix}::{rest}")
                    };
                    let alias = if alias == "self" {
                        prefix.rsplit("::").next().unwrap_or(prefix).to_string()
                    } else {
                        alias
                    };
                    (path, alias)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every in-crate path a file names: `use` trees, inline `crate::`/`super::` paths, and
/// paths through a name a `use` brought in (`model::find` after `use super::model`).
fn paths_named(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let starts_statement = at == 0
            || rest[..at]
                .ends_with(|c: char| c.is_whitespace() || c == ';' || c == '{' || c == '}');
        let Some(end) = rest[at..].find(';') else {
            break;
        };
        if starts_statement {
            for (path, alias) in expand(&rest[at + 4..at + end]) {
                aliases.insert(alias, path.clone());
                paths.push(path);
            }
        }
        rest = &rest[at + end + 1..];
    }
    let mut from = 0;
    while let Some(at) = code[from..].find("::") {
        let colons = from + at;
        from = colons + 2;
        let head_start = code[..colons]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        if code[..head_start].ends_with("::") {
            continue;
        }
        let head = &code[head_start..colons];
        let tail: String = code[colons..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let tail = tail.trim_end_matches(':');
        match head {
            "crate" | "super" | "self" => paths.push(format!("{head}{tail}")),
            _ => {
                if let Some(path) = aliases.get(head) {
                    paths.push(format!("{path}{tail}"));
                }
            }
        }
    }
    paths
}

/// The file each path leads to, from the file at `module`.
fn resolve(
    module: &[String],
    is_mod_file: bool,
    children: &BTreeSet<String>,
    path: &str,
) -> Option<PathBuf> {
    let segments: Vec<String> = path.split("::").map(str::to_string).collect();
    let here: Vec<String> = module.to_vec();
    let absolute = match segments.first().map(String::as_str) {
        Some("crate") => segments[1..].to_vec(),
        Some("super") => {
            // `super` of `a/b.rs` is `a`; of `a/mod.rs` it is the parent of `a`.
            let mut base = here.clone();
            base.pop();
            let mut rest = &segments[1..];
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            base.into_iter().chain(rest.iter().cloned()).collect()
        }
        Some("self") => here
            .into_iter()
            .chain(segments[1..].iter().cloned())
            .collect(),
        Some(first) if children.contains(first) && is_mod_file => {
            here.into_iter().chain(segments.iter().cloned()).collect()
        }
        _ => return None,
    };
    Some(file_of(&absolute))
}

fn import_graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let is_mod_file = matches!(name, "mod.rs" | "lib.rs" | "main.rs");
        let code = code_of(&std::fs::read_to_string(&file).expect("read"));
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|line| {
                let line = line
                    .trim()
                    .trim_start_matches("pub(crate) ")
                    .trim_start_matches("pub ");
                line.strip_prefix("mod ")?
                    .strip_suffix(';')
                    .map(str::to_string)
            })
            .collect();
        let targets: BTreeSet<PathBuf> = paths_named(&code)
            .iter()
            .filter_map(|path| resolve(&module, is_mod_file, &children, path))
            .filter(|target| *target != file)
            .collect();
        graph.insert(file, targets);
    }
    graph
}

fn find_cycle(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    fn visit(
        node: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        done: &mut BTreeSet<PathBuf>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_web_app_has_no_import_circle() {
    let graph = import_graph();
    assert!(graph.len() > 40, "the sources were found");
    let routes = &graph[&src().join("routes.rs")];
    assert!(
        routes.contains(&src().join("users/handlers.rs")),
        "imports are read: {routes:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        let names: Vec<String> = cycle
            .iter()
            .map(|p| p.strip_prefix(src()).unwrap_or(p).display().to_string())
            .collect();
        panic!("import circle: {}", names.join(" → "));
    }
}

#[test]
fn the_cycle_finder_finds_a_circle() {
    let (a, b, c) = (PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("c"));
    let mut graph = BTreeMap::new();
    graph.insert(a.clone(), BTreeSet::from([b.clone()]));
    graph.insert(b.clone(), BTreeSet::from([c.clone()]));
    graph.insert(c.clone(), BTreeSet::new());
    assert_eq!(find_cycle(&graph), None);
    graph.insert(c.clone(), BTreeSet::from([a.clone()]));
    assert_eq!(find_cycle(&graph), Some(vec![a.clone(), b, c, a]));
}

#[test]
fn use_trees_expand_to_every_path() {
    let expanded = expand("crate::{agents, audit::{self, Actor}, views::{Layout as L}}");
    let expected = [
        ("crate::agents", "agents"),
        ("crate::audit", "audit"),
        ("crate::audit::Actor", "Actor"),
        ("crate::views::Layout", "L"),
    ];
    assert_eq!(
        expanded,
        expected.map(|(p, a)| (p.to_string(), a.to_string()))
    );
}

#[test]
fn what_handlers_share_comes_from_state_rs() {
    let graph = import_graph();
    let startup = src().join("startup.rs");
    let state = src().join("state.rs");
    for (file, targets) in &graph {
        let name = file
            .strip_prefix(src())
            .unwrap_or(file)
            .display()
            .to_string();
        if name.ends_with("handlers.rs") || name.contains("middleware") {
            assert!(!targets.contains(&startup), "{name} imports startup.rs");
        }
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        if code.contains("AppState") && name != "state.rs" {
            assert!(
                targets.contains(&state),
                "{name} takes AppState from state.rs"
            );
        }
    }
    assert!(
        !graph[&state]
            .iter()
            .any(|t| t.to_string_lossy().contains("handlers"))
    );
}
