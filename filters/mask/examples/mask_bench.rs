//! Native masking throughput on the bodies `ci/bench` masks in wasm:
//! `cargo run --release -p warden-mask --example mask_bench -- <dir of bench scenarios>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sha2::Digest;
use std::time::Instant;
use warden_mask::config::{compile_profile, ProfileConfig};
use warden_mask::formats::{mask_body, Format};
use warden_mask::profile::Report;
use warden_mask::stream::LineStream;

fn main() {
    let dir = std::env::args().nth(1).expect("directory of mask bench scenarios");
    let profile = compile_profile("all", &serde_json::from_str::<ProfileConfig>("{}").unwrap(), None).unwrap();
    // `--digest DIR`: the SHA-256 of each body's masked output (to show two builds mask alike).
    if dir == "--digest" {
        let dir = std::env::args().nth(2).unwrap_or_default();
        let mut bodies: Vec<(String, Vec<u8>)> = adversarial().into_iter().map(|(n, b)| (n.to_string(), b)).collect();
        let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
        names.sort();
        for path in names.into_iter().filter(|p| p.to_string_lossy().contains("mask-")) {
            let scenario: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let upstream = &scenario["upstream"];
            let body = match upstream["chunks"].as_array() {
                Some(chunks) => chunks.iter().map(|c| c.as_str().unwrap()).collect::<String>(),
                None => upstream["body"].as_str().unwrap().to_string(),
            };
            bodies.push((path.display().to_string(), body.into_bytes()));
        }
        for (name, body) in bodies {
            for format in [Format::Text, Format::Json] {
                let mut report = Report::default();
                let masked = mask_body(&profile, format, &body, &mut report).unwrap_or_else(|| body.clone());
                let digest = sha2::Sha256::digest(&masked);
                println!("{name} {} {}", format.name(), digest.iter().map(|b| format!("{b:02x}")).collect::<String>());
            }
        }
        return;
    }
    // `--adversarial NAME`: mask that one adversarial body once (for a profiler).
    if dir == "--adversarial" {
        let wanted = std::env::args().nth(2).unwrap_or_default();
        for (name, body) in adversarial().into_iter().filter(|(n, _)| *n == wanted) {
            let mut report = Report::default();
            std::hint::black_box(mask_body(&profile, Format::Text, &body, &mut report));
            println!("{name}: {} masked", report.total());
        }
        return;
    }
    println!("\n{:<40} {:>10} {:>12} {:>10}", "masking (native, all detectors)", "KiB", "MB/s", "masked");
    // The fixed rows, then every dense corpus file present (ci/bench-data/dense-mask-scenarios.py).
    let mut rows: Vec<(String, Format)> = vec![
        ("mask-text-256k".into(), Format::Text),
        ("mask-json-256k".into(), Format::Json),
        ("mask-event-stream-256k".into(), Format::EventStream),
    ];
    for (kind, format) in [("text", Format::Text), ("json", Format::Json), ("event-stream", Format::EventStream)] {
        for size in ["64k", "256k", "1m"] {
            let name = format!("mask-dense-{kind}-{size}");
            if std::path::Path::new(&format!("{dir}/{name}.scenario.yaml")).exists() {
                rows.push((name, format));
            }
        }
    }
    for (name, format) in rows {
        let scenario: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}.scenario.yaml")).unwrap()).unwrap();
        let upstream = &scenario["upstream"];
        // A streamed body goes through chunk by chunk, as the proxy delivers it.
        let chunks: Vec<Vec<u8>> = match upstream["chunks"].as_array() {
            Some(chunks) => chunks.iter().map(|c| c.as_str().unwrap().as_bytes().to_vec()).collect(),
            None => vec![upstream["body"].as_str().unwrap().as_bytes().to_vec()],
        };
        let body = chunks.concat();
        let iterations = if body.len() > 512 * 1024 { 8 } else { 40 };
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
    println!("\n{:<40} {:>10} {:>12}", "adversarial bodies (native, text)", "KiB", "MB/s");
    for (name, body) in adversarial() {
        let started = Instant::now();
        let iterations = 10;
        for _ in 0..iterations {
            let mut report = Report::default();
            std::hint::black_box(mask_body(&profile, Format::Text, &body, &mut report));
        }
        let secs = started.elapsed().as_secs_f64() / f64::from(iterations);
        println!("{name:<40} {:>10} {:>12.1}", body.len() / 1024, body.len() as f64 / secs / 1e6);
    }
}

/// Bodies built to be slow (long digit runs, repeated near misses, unterminated PEM headers,
/// many `password=`, long base64 runs): natively, MB/s each, and its ratio to the dense text.
pub fn adversarial() -> Vec<(&'static str, Vec<u8>)> {
    let size = 256 * 1024;
    let fill = |unit: &str| unit.repeat(size / unit.len() + 1).into_bytes()[..size].to_vec();
    vec![
        ("digit run", fill("0123456789")),
        ("digits in groups of four", fill("4111 1111 1111 1112 ")),
        ("near-miss cards", fill("card 4111 1111 1111 1112, ")),
        ("near-miss IBANs", fill("DE89 3704 0044 0532 0130 01 ")),
        ("phone-like runs", fill("+44 20 7946 095 ")),
        ("unterminated PEM headers", fill("-----BEGIN RSA PRIVATE KEY-----\nMIIEow")),
        ("many password=", fill("password= password=x ")),
        ("base64 run", fill("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0123456789+/")),
        ("JWT-like dots", fill("eyJhbGciOi.eyJzdWIiOi.")),
        ("at signs", fill("a@b@c@d.e@")),
        ("dots and dashes", fill("1.2.3.4-5-6-7-8.")),
    ]
}
