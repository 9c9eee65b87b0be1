//! Time SQL classification natively over the `sql-read-only` pack's statements:
//! `cargo run --release -p warden-policy --example sql_bench`. Prints the median time per
//! statement for the changes and for the genuine reads (wasm in the harness: `ci/bench`'s
//! `policy-sql-read` row).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

fn main() {
    let text = std::fs::read_to_string("policies/sql-read-only/cases.yaml").expect("run from the repository root");
    let cases: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    for (label, effect) in [("changes", "deny"), ("reads", "allow")] {
        let statements: Vec<String> = cases["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["expect"]["effect"] == effect)
            .map(|c| c["request"]["json"]["query"].as_str().unwrap().to_string())
            .collect();
        let mut times: Vec<f64> = statements
            .iter()
            .map(|sql| {
                let start = Instant::now();
                for _ in 0..200 {
                    std::hint::black_box(warden_policy::sql::classify(std::hint::black_box(sql)));
                }
                start.elapsed().as_secs_f64() * 1e6 / 200.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "{label}: {} statements, median {:.1} µs, slowest {:.1} µs per statement",
            times.len(),
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}
