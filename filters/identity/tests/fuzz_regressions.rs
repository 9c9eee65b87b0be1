//! The fuzz targets' saved regression inputs (`fuzz/regressions/<target>/`), replayed on the
//! stable toolchain in every `ci/test` through the same checks the targets run; `ci/fuzz`
//! (nightly) keeps finding new ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no regression inputs in {}", dir.display());
}

#[test]
fn saved_token_inputs_neither_panic_nor_verify() {
    replay("token", checks::token);
}

#[test]
fn saved_jwks_inputs_do_not_panic() {
    replay("jwks", checks::jwks);
}
