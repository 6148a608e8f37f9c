//! The code's shape: within each crate, modules do not import each other in a circle (a
//! circle makes a hub that every change touches). Read from the sources: `use crate::x`
//! and `crate::x::` paths outside `#[cfg(test)]` modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module of a crate's `src/` and the sibling modules it names.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files: Vec<_> = std::fs::read_dir(src).unwrap().flatten().map(|e| e.path()).collect();
    let modules: BTreeSet<String> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter_map(|p| p.file_stem()?.to_str().map(str::to_owned))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let text = std::fs::read_to_string(src.join(format!("{module}.rs"))).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut named = BTreeSet::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                named.extend(group.split(',').filter_map(|item| item.trim().split("::").next().map(str::to_owned)));
            } else {
                named.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
            }
        }
        named.retain(|m| modules.contains(m) && m != module);
        graph.insert(module.clone(), named);
    }
    graph
}

/// A circle in `graph`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            return Some([&path[at..], &[m.to_owned()]].concat());
        }
        if !done.insert(m.to_owned()) {
            return None;
        }
        path.push(m.to_owned());
        let found = graph[m].iter().find_map(|next| visit(next, graph, path, done));
        path.pop();
        found
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_modules_that_import_each_other_in_a_circle() {
    let crates = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for name in ["wire", "store", "auth", "server"] {
        let graph = imports(&Path::new(crates).join(name).join("src"));
        assert!(!graph.is_empty(), "{name}: no modules found");
        assert_eq!(circle(&graph), None, "crates/{name}/src");
    }
}

#[test]
fn a_circle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .iter()
        .map(|(m, n)| ((*m).to_owned(), BTreeSet::from([(*n).to_owned()])))
        .collect();
    assert_eq!(circle(&graph), Some(["a", "b", "c", "a"].map(str::to_owned).to_vec()));
}
