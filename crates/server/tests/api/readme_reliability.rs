//! The README's "Reliability" section says what the tests hold, so it names them: every item
//! names a file that exists, every test function it names is defined in one of the files of
//! its item, and every figure marked measured comes with the command that printed it.

use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The section, from its heading to the next.
fn section() -> String {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme.find("\n## Reliability\n").expect("a Reliability section") + 1;
    let rest = &readme[start..];
    let end = rest[1..].find("\n## ").map_or(rest.len(), |i| i + 1);
    rest[..end].to_owned()
}

/// What stands between backticks.
fn code_spans(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

/// A test function's name: snake case with three underscores or more (event and table names
/// in the section have fewer).
fn is_test_name(span: &str) -> bool {
    span.matches('_').count() >= 3 && span.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[test]
fn every_reliability_item_names_tests_that_exist_and_the_commands_of_its_measurements() {
    let section = section();
    let items: Vec<&str> = section.split("\n- **").skip(1).collect();
    assert!(items.len() >= 15, "only {} items in the section", items.len());
    let api = Path::new(ROOT).join("crates/server/tests/api");
    for item in items {
        let title = item.split("**").next().unwrap();
        let spans = code_spans(item);
        let files: Vec<PathBuf> = spans
            .iter()
            .filter(|s| !s.contains(' ') && (s.ends_with(".rs") || s.ends_with(".sh") || s.ends_with('/')))
            .map(|s| if s.contains('/') { Path::new(ROOT).join(s) } else { api.join(s) })
            .collect();
        assert!(!files.is_empty(), "{title}: names no test file");
        for file in &files {
            assert!(file.exists(), "{title}: {} does not exist", file.display());
        }
        let sources: String =
            files.iter().filter(|f| f.is_file()).map(|f| std::fs::read_to_string(f).unwrap()).collect();
        for name in spans.iter().filter(|s| is_test_name(s)) {
            assert!(sources.contains(&format!("fn {name}(")), "{title}: no test `{name}` in the files it names");
        }
        for (at, _) in item.match_indices("*Measured*") {
            let command = code_spans(&item[at..]).into_iter().next().unwrap_or_default();
            assert!(
                command.starts_with("cargo ") || command.starts_with("make ") || command.contains(" cargo "),
                "{title}: a measurement without its command (`{command}`)"
            );
        }
    }
}
