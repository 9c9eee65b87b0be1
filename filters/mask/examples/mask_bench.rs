//! Native masking throughput on the bodies `ci/bench` masks in wasm:
//! `cargo run --release -p warden-mask --example mask_bench -- <dir of bench scenarios>`.
//!
//! Also: `--digest DIR` (SHA-256 of every masked output, to show two builds mask alike),
//! `--adversarial NAME [TIMES]` (mask one adversarial body or scenario, for a profiler), and
//! `--search-slow DIR SECONDS` (a random search for slow bodies; writes the adversarial bodies
//! and the slowest found as wasm scenarios into DIR, so `ci/bench` measures them in wasm too).
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
                println!("{name} {} {}", format.name(), warden_kit::hex::encode(&digest));
            }
        }
        return;
    }
    // `--adversarial NAME`: mask that one adversarial body once (for a profiler); NAME may
    // also be a scenario file (its body masked as text or JSON by its content type).
    if dir == "--adversarial" {
        let wanted = std::env::args().nth(2).unwrap_or_default();
        // `--adversarial NAME TIMES`: that many times (a profiler's count for TIMES minus one
        // run is the cost of a run with the automaton's cache warm).
        let times: usize = std::env::args().nth(3).and_then(|t| t.parse().ok()).unwrap_or(1);
        if wanted.ends_with(".yaml") {
            let scenario: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&wanted).unwrap()).unwrap();
            let upstream = &scenario["upstream"];
            let body: String = match upstream["chunks"].as_array() {
                Some(chunks) => chunks.iter().map(|c| c.as_str().unwrap()).collect(),
                None => upstream["body"].as_str().unwrap().to_string(),
            };
            let json = upstream["headers"]["content-type"] == "application/json";
            let format = if json { Format::Json } else { Format::Text };
            for _ in 0..times {
                let mut report = Report::default();
                std::hint::black_box(mask_body(&profile, format, body.as_bytes(), &mut report));
                println!("{wanted}: {} masked", report.total());
            }
            return;
        }
        for (name, body) in adversarial().into_iter().filter(|(n, _)| *n == wanted) {
            for _ in 0..times {
                let mut report = Report::default();
                std::hint::black_box(mask_body(&profile, Format::Text, &body, &mut report));
                println!("{name}: {} masked", report.total());
            }
        }
        return;
    }
    if dir == "--search-slow" {
        let out = std::env::args().nth(2).expect("directory for the scenarios");
        let seconds: u64 = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(20);
        search_slow(&profile, &out, std::time::Duration::from_secs(seconds));
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
        println!("{name:<40} {:>10} {:>12.1}", body.len() / 1024, throughput(&profile, &body, 10));
    }
}

/// MB/s masking `body` as text, the mean of `iterations` runs.
fn throughput(profile: &warden_mask::profile::Profile, body: &[u8], iterations: u32) -> f64 {
    let started = Instant::now();
    for _ in 0..iterations {
        let mut report = Report::default();
        std::hint::black_box(mask_body(profile, Format::Text, body, &mut report));
    }
    body.len() as f64 / (started.elapsed().as_secs_f64() / f64::from(iterations)) / 1e6
}

/// Pieces slow bodies are made of: digits, separators, letters, and the starts of the values
/// the detectors look for.
const PIECES: &[&str] = &[
    "0",
    "1",
    "4",
    "7",
    "9",
    "12",
    "123",
    "4111",
    "0044",
    "1234567",
    "4111111111111112",
    " ",
    "-",
    ".",
    ":",
    "/",
    "@",
    "=",
    "_",
    "+",
    "(",
    ")",
    "\n",
    "\"",
    "'",
    "a",
    "Z",
    "x",
    "e",
    "ext",
    "DE89",
    "GB82",
    "AKIA",
    "eyJ",
    "eyJhbGciOi",
    "sk-",
    "ghp_",
    "xoxb-",
    "glpat-",
    "AIza",
    "Bearer ",
    "password",
    "secret=",
    "api_key: ",
    "aws_secret",
    "-----BEGIN ",
    "PRIVATE KEY-----",
    "+44 ",
    "(0)",
    "001-",
    "::",
    "ff",
    "255.",
    "example.com",
    ".de",
];

/// A small deterministic generator (xorshift64*), so a search can be repeated.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// A unit of 1–8 pieces; a body is the unit repeated to `size` bytes.
fn body_of(unit: &[usize], size: usize) -> Vec<u8> {
    let unit: String = unit.iter().map(|&i| PIECES[i]).collect();
    unit.repeat(size / unit.len() + 1).into_bytes()[..size].to_vec()
}

/// Random search with mutation for the repeated unit that masks slowest: random units first,
/// then changes to the slowest ones, for `budget`. Prints the slowest found next to dense text
/// and writes the adversarial bodies and the slowest as wasm scenarios into `out`.
fn search_slow(profile: &warden_mask::profile::Profile, out: &str, budget: std::time::Duration) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let probe = 32 * 1024;
    let mut slowest: Vec<(f64, Vec<usize>)> = Vec::new();
    let mut tried = 0;
    while started.elapsed() < budget {
        let unit: Vec<usize> = if slowest.len() < 8 || rng.below(3) == 0 {
            (0..1 + rng.below(8)).map(|_| rng.below(PIECES.len())).collect()
        } else {
            let mut unit = slowest[rng.below(slowest.len().min(4))].1.clone();
            let at = rng.below(unit.len());
            match rng.below(3) {
                0 if unit.len() < 8 => unit.insert(at, rng.below(PIECES.len())),
                1 if unit.len() > 1 => drop(unit.remove(at)),
                _ => unit[at] = rng.below(PIECES.len()),
            }
            unit
        };
        let speed = throughput(profile, &body_of(&unit, probe), 2);
        tried += 1;
        slowest.push((speed, unit));
        slowest.sort_by(|a, b| a.0.total_cmp(&b.0));
        slowest.truncate(8);
    }
    // The slowest candidates measured again, longer, at 256 KiB.
    let size = 256 * 1024;
    let mut confirmed: Vec<(f64, Vec<usize>)> =
        slowest.into_iter().map(|(_, unit)| (throughput(profile, &body_of(&unit, size), 10), unit)).collect();
    confirmed.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("\nslow-input search (native, text, {tried} bodies tried in {}s): slowest found", budget.as_secs());
    for (speed, unit) in confirmed.iter().take(3) {
        let text: String = unit.iter().map(|&i| PIECES[i]).collect();
        println!("  {:>8.1} MB/s  unit {:?}", speed, text);
    }
    std::fs::create_dir_all(out).unwrap();
    let mut bodies: Vec<(String, Vec<u8>)> =
        adversarial().into_iter().map(|(n, b)| (n.replace([' ', '='], "-"), b)).collect();
    if let Some((_, unit)) = confirmed.first() {
        bodies.push(("slowest-found".into(), body_of(unit, size)));
    }
    for (name, body) in bodies {
        let scenario = serde_json::json!({
            "description": format!("masking a 256 KiB adversarial text response ({name}) with every built-in detector"),
            "filters": [{"wasm": "warden_mask.wasm", "config": {"obligations": false, "response": "all", "profiles": {"all": {}}}}],
            "upstream": {"headers": {"content-type": "text/plain"}, "body": String::from_utf8_lossy(&body)},
            "requests": [{"path": "/", "expect": {"status": 200}}],
        });
        let path = format!("{out}/mask-adversarial-{name}.scenario.yaml");
        std::fs::write(path, serde_json::to_vec(&scenario).unwrap()).unwrap();
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
        ("colons and hex digits", fill(":::1")),
        ("MAC addresses", fill("00:1a:2b:3c:4d:5e ")),
    ]
}
