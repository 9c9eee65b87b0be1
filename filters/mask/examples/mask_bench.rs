//! Native masking throughput on the bodies `ci/bench` masks in wasm:
//! `cargo run --release -p warden-mask --example mask_bench -- <dir of bench scenarios>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;
use warden_mask::config::{compile_profile, ProfileConfig};
use warden_mask::formats::{mask_body, Format};
use warden_mask::profile::Report;
use warden_mask::stream::LineStream;

fn main() {
    let dir = std::env::args().nth(1).expect("directory of mask bench scenarios");
    let profile = compile_profile("all", &serde_json::from_str::<ProfileConfig>("{}").unwrap(), None).unwrap();
    println!("\n{:<40} {:>10} {:>12} {:>10}", "masking (native, all detectors)", "KiB", "MB/s", "masked");
    for (name, format) in [
        ("mask-text-256k", Format::Text),
        ("mask-json-256k", Format::Json),
        ("mask-event-stream-256k", Format::EventStream),
    ] {
        let scenario: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}.scenario.yaml")).unwrap()).unwrap();
        let upstream = &scenario["upstream"];
        // A streamed body goes through chunk by chunk, as the proxy delivers it.
        let chunks: Vec<Vec<u8>> = match upstream["chunks"].as_array() {
            Some(chunks) => chunks.iter().map(|c| c.as_str().unwrap().as_bytes().to_vec()).collect(),
            None => vec![upstream["body"].as_str().unwrap().as_bytes().to_vec()],
        };
        let body = chunks.concat();
        let iterations = 40;
        let mut masked = 0;
        let started = Instant::now();
        for _ in 0..iterations {
            let mut report = Report::default();
            if chunks.len() > 1 {
                let mut lines = LineStream::new(format, 1024 * 1024);
                for (n, chunk) in chunks.iter().enumerate() {
                    std::hint::black_box(lines.push(&[&profile], chunk, n + 1 == chunks.len(), &mut report).unwrap());
                }
            } else {
                std::hint::black_box(mask_body(&profile, format, &body, &mut report));
            }
            masked = report.total();
        }
        let secs = started.elapsed().as_secs_f64() / f64::from(iterations);
        println!("{name:<40} {:>10} {:>12.1} {masked:>10}", body.len() / 1024, body.len() as f64 / secs / 1e6);
    }
}
