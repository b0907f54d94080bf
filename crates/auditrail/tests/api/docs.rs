//! The documents stay true to the tree: every repository path that README.md, ARCHITECTURE.md,
//! SECURITY.md, BENCHMARKS.md or docs/ name exists, and every test SECURITY.md cites as the proof
//! of a guarantee exists.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut out: Vec<PathBuf> =
        ["README.md", "ARCHITECTURE.md", "SECURITY.md", "BENCHMARKS.md"].iter().map(|f| root.join(f)).collect();
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("docs/ exists") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    out
}

/// Words of a document that name a repository path: ones starting with a top-level directory of
/// the repository, and relative link targets `](…)`.
fn named_paths(text: &str) -> Vec<String> {
    const TOP: [&str; 5] = ["crates/", "tests/", "scripts/", "docs/", ".ci/"];
    let mut out = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '`' | '(' | ')' | '[' | ']' | '"' | ',' | ';')) {
        let word = word.trim_end_matches(['.', ':']);
        if TOP.iter().any(|t| word.starts_with(t)) && !word.contains("…") && !word.contains('*') {
            out.push(word.to_owned());
        }
    }
    for link in text.split("](").skip(1) {
        let target = link.split(')').next().unwrap_or("").split('#').next().unwrap_or("");
        if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
            out.push(target.to_owned());
        }
    }
    out
}

#[test]
fn every_path_the_documents_name_exists() {
    let root = root();
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("read document");
        let base = doc.parent().expect("parent").to_path_buf();
        for path in named_paths(&text) {
            checked += 1;
            // Links are relative to the document; plain paths to the repository root.
            let exists = root.join(&path).exists() || base.join(&path).exists();
            if !exists {
                missing.push(format!("{}: {path}", doc.strip_prefix(&root).unwrap_or(&doc).display()));
            }
        }
    }
    assert!(checked > 20, "only {checked} paths found: the scan is broken");
    assert!(missing.is_empty(), "paths named in the documents that do not exist:\n{}", missing.join("\n"));
}

/// `module::test_name` references in SECURITY.md's tables name tests that exist.
#[test]
fn every_test_security_md_cites_exists() {
    let root = root();
    let security = std::fs::read_to_string(root.join("SECURITY.md")).expect("SECURITY.md");
    let sources: Vec<(String, String)> = [
        "crates/auditrail/tests/api",
        "crates/store/tests",
        "crates/core/tests",
        "crates/core/src",
        "crates/server/src",
        "crates/auditrail/src/commands",
    ]
    .iter()
    .flat_map(|dir| std::fs::read_dir(root.join(dir)).expect("source dir").map(|e| e.expect("entry").path()))
    .filter(|p| p.extension().is_some_and(|e| e == "rs"))
    .map(|p| {
        let module = p.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        (module, std::fs::read_to_string(&p).expect("source"))
    })
    .collect();
    let mut cited = 0;
    let mut missing = Vec::new();
    for span in security.split('`').skip(1).step_by(2) {
        let Some((module, name)) = span.split_once("::") else { continue };
        let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        // Tests are snake_case functions; `Kind::System`-style type paths are not test names.
        if !plain(module) || !plain(name) || name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            continue;
        }
        if module.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            continue;
        }
        cited += 1;
        // `core::numbers`, `store::hash_matches`: code in a crate (a module file or a function).
        if ["core", "store", "server"].contains(&module) {
            let src = root.join("crates").join(module).join("src");
            let in_crate = src.join(format!("{name}.rs")).exists()
                || std::fs::read_dir(&src).expect("crate src").any(|e| {
                    let path = e.expect("entry").path();
                    std::fs::read_to_string(path).is_ok_and(|text| text.contains(&format!("fn {name}(")))
                });
            if !in_crate {
                missing.push(format!("{module}::{name}"));
            }
            continue;
        }
        let defined = sources.iter().any(|(m, source)| {
            (m == module || source.contains(&format!("mod {module}")))
                && (source.contains(&format!("fn {name}(")) || source.contains(&format!("fn {name}<")))
        }) || sources
            .iter()
            .any(|(_, source)| source.contains(&format!("{name},")) && source.contains("conformance!"));
        if !defined {
            missing.push(format!("{module}::{name}"));
        }
    }
    assert!(cited > 30, "only {cited} tests cited: the scan is broken");
    assert!(missing.is_empty(), "SECURITY.md cites tests that do not exist:\n{}", missing.join("\n"));
}
