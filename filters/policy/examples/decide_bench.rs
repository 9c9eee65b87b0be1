//! Native cost of policy decisions and compilation, on the shapes `ci/bench` runs in wasm:
//! `cargo run --release -p warden-policy --example decide_bench -- <dir of bench scenarios>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;
use warden_kit::StageKind;
use warden_policy::request::Request;
use warden_policy::{Policy, PolicyConfig};

fn main() {
    let dir = std::env::args().nth(1).expect("directory of policy bench scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    println!("\n{:<48} {:>12} {:>14}", "policy shape (native)", "compile ms", "decide ns/req");
    for file in files {
        let scenario: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let config = scenario["filters"][0]["config"].clone();
        let request = &scenario["requests"][0];
        let started = Instant::now();
        let policy = Policy::compile(serde_json::from_value::<PolicyConfig>(config).unwrap()).unwrap();
        let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut headers = vec![
            (":method".to_string(), request["method"].as_str().unwrap_or("GET").to_string()),
            (":path".to_string(), request["path"].as_str().unwrap_or("/").to_string()),
            (":authority".to_string(), "api.example.com".to_string()),
        ];
        for pair in request["headers"].as_array().into_iter().flatten() {
            headers.push((pair[0].as_str().unwrap().to_string(), pair[1].as_str().unwrap().to_string()));
        }
        let body = request["body"].as_str().unwrap_or_default().as_bytes().to_vec();
        let iterations = 20_000;
        let started = Instant::now();
        for _ in 0..iterations {
            let req = Request::new(&headers, None, None, 1_767_609_000);
            let decision = policy.decide(&req, &body);
            std::hint::black_box(decision);
        }
        let per = started.elapsed().as_nanos() as f64 / iterations as f64;
        let name = file.file_name().unwrap().to_string_lossy().replace(".scenario.yaml", "");
        println!("{name:<48} {compile_ms:>12.1} {per:>14.0}");
    }
}
