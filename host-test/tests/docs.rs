//! The README's table of Envoy behaviours cites the scenarios that assert each one: every
//! citation must name scenario files that exist, so the table cannot point at nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use std::path::Path;

#[test]
fn every_scenario_the_readme_cites_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let table = readme.split("## Envoy behaviours the harness reproduces").nth(1).unwrap();
    let table = table.split("\n## ").next().unwrap();
    let mut cited = 0;
    for row in table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| behaviour")) {
        let scenarios = row.rsplit('|').nth(1).unwrap();
        for name in scenarios.split('`').skip(1).step_by(2) {
            let (dir, stem) = name.split_once('/').unwrap_or_else(|| panic!("`{name}` is not dir/name"));
            let prefix = stem.trim_end_matches('*');
            let found = std::fs::read_dir(root.join("scenarios").join(dir))
                .unwrap_or_else(|e| panic!("`{name}`: {e}"))
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .any(|file| {
                    let file_stem = file.trim_end_matches(".scenario.yaml");
                    if stem.ends_with('*') {
                        file_stem.starts_with(prefix)
                    } else {
                        file_stem == stem
                    }
                });
            assert!(found, "README cites `{name}`, which no scenario file under host-test/scenarios/ matches");
            cited += 1;
        }
    }
    assert!(cited > 10, "the table was not found or cites almost nothing ({cited})");
}
