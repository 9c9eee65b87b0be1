//! Running scenario files on a backend and reporting `N passed, M failed`.

use super::format::{Backend, Packaging};
use super::packaging::packaged;
use super::resolve::{discover, load, resolve_filters, runs_on};
use super::services::Services;
use super::{check, component, envoy, harness};
use crate::host::vm::Runtime;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How one scenario file ended.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Every expectation held.
    Passed,
    /// What differed, or why it could not run.
    Failed(Vec<String>),
    /// Not for this backend (with the scenario's reason).
    Skipped(String),
}

/// Options of `warden test`.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Backend to run on.
    pub backend: Backend,
    /// Where artifact names are looked up.
    pub wasm_dir: PathBuf,
    /// Scenarios run at once.
    pub jobs: usize,
    /// Envoy binary (Envoy backend).
    pub envoy: Option<PathBuf>,
    /// Scratch directory for Envoy runs and the services scenarios start.
    pub work_dir: PathBuf,
    /// The `warden` binary, for scenarios whose clusters are real services (`warden serve`).
    pub warden: Option<PathBuf>,
}

/// One run of a scenario file: under one packaging.
#[derive(Debug, Clone)]
struct Job {
    path: PathBuf,
    /// `None` when the file could not be read (the run reports why).
    packaging: Option<Packaging>,
    /// Whether the file lists more than one packaging (the result line then names it).
    several: bool,
}

/// The runs of each file: one per packaging it lists (one for a file that does not load).
fn jobs(files: &[PathBuf]) -> Vec<Job> {
    let mut jobs = Vec::new();
    for path in files {
        match load(path) {
            Ok(scenario) => {
                let several = scenario.packagings.len() > 1;
                for packaging in &scenario.packagings {
                    jobs.push(Job { path: path.clone(), packaging: Some(*packaging), several });
                }
            }
            Err(_) => jobs.push(Job { path: path.clone(), packaging: None, several: false }),
        }
    }
    jobs
}

/// Where the components are, given where the proxy-wasm modules are: the `wasm32-wasip2`
/// output beside a `wasm32-wasip1` one (`target/wasm32-wasip2/wasm`), else the same directory.
pub fn component_dir(wasm_dir: &Path) -> PathBuf {
    let text = wasm_dir.to_string_lossy();
    if text.contains("wasm32-wasip1") {
        PathBuf::from(text.replace("wasm32-wasip1", "wasm32-wasip2"))
    } else {
        wasm_dir.to_path_buf()
    }
}

/// Runs one scenario file under one packaging.
pub fn run_file(
    runtime: &Arc<Runtime>,
    path: &Path,
    packaging: Packaging,
    options: &TestOptions,
    index: usize,
) -> Verdict {
    let scenario = match load(path).and_then(|s| packaged(&s, packaging)) {
        Ok(s) => s,
        Err(e) => return Verdict::Failed(vec![format!("{e:#}")]),
    };
    if packaging == Packaging::Component && options.backend == Backend::Envoy {
        return Verdict::Skipped("the component packaging runs on wasi:http hosts, not in Envoy".into());
    }
    if !runs_on(&scenario, options.backend) {
        return Verdict::Skipped(scenario.reason.clone().unwrap_or_default());
    }
    let stem = path.file_name().map(|n| n.to_string_lossy().replace(".scenario.yaml", "")).unwrap_or_default();
    let backend_name = if options.backend == Backend::Envoy { "envoy" } else { "harness" };
    let services_dir = options.work_dir.join(format!("{index:03}-{stem}-{}-{backend_name}-services", packaging.name()));
    let services = match Services::start(&scenario, options.warden.as_deref(), &services_dir) {
        Ok(services) => services,
        Err(e) => return Verdict::Failed(vec![format!("{e:#}")]),
    };
    let scenario = services.fill(&scenario);
    let wasm_dir = match packaging {
        Packaging::Component => component_dir(&options.wasm_dir),
        _ => options.wasm_dir.clone(),
    };
    let filters = match resolve_filters(&scenario, path, &wasm_dir) {
        Ok(f) => f,
        Err(e) => return Verdict::Failed(vec![format!("{e:#}")]),
    };
    let observed = match options.backend {
        Backend::Harness if packaging == Packaging::Component => component::run(&scenario, &filters, &services),
        Backend::Harness => harness::run(runtime, &scenario, &filters, &services),
        Backend::Envoy => {
            let Some(envoy_bin) = &options.envoy else {
                return Verdict::Failed(vec!["no Envoy binary".into()]);
            };
            let dir = options.work_dir.join(format!("{index:03}-{stem}-{}", packaging.name()));
            match envoy::run(envoy_bin, &scenario, &filters, &dir, &services) {
                Ok(observed) => observed,
                Err(e) => return Verdict::Failed(vec![format!("{e:#}")]),
            }
        }
    };
    let failures = check::check(&scenario, &observed);
    if failures.is_empty() {
        Verdict::Passed
    } else {
        let mut failures = failures;
        if !scenario.description.is_empty() {
            failures.insert(0, format!("scenario: {}", scenario.description.trim()));
        }
        let tail: Vec<String> = observed.logs.iter().rev().take(12).rev().map(|l| format!("  log: {l}")).collect();
        failures.extend(tail);
        Verdict::Failed(failures)
    }
}

/// Runs every scenario under `paths`, prints one line per scenario and the summary line, and
/// returns whether all passed.
pub fn run_all(paths: &[PathBuf], options: &TestOptions) -> anyhow::Result<bool> {
    let files = discover(paths)?;
    if files.is_empty() {
        anyhow::bail!("no *.scenario.yaml files under {:?}", paths);
    }
    let runtime = Arc::new(Runtime::new()?);
    let jobs = jobs(&files);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Verdict)>> = Mutex::new(Vec::new());
    let backend = match options.backend {
        Backend::Harness => "harness",
        Backend::Envoy => "envoy",
    };
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                let verdict = match job.packaging {
                    Some(packaging) => run_file(&runtime, &job.path, packaging, options, i),
                    None => match load(&job.path) {
                        Err(e) => Verdict::Failed(vec![format!("{e:#}")]),
                        Ok(_) => Verdict::Failed(vec!["the file changed while running".into()]),
                    },
                };
                let label = match job.packaging {
                    Some(packaging) if job.several => format!("{backend} {}", packaging.name()),
                    _ => backend.to_string(),
                };
                print_verdict(&label, &job.path, &verdict);
                if let Ok(mut all) = results.lock() {
                    all.push((i, verdict));
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let passed = results.iter().filter(|(_, v)| matches!(v, Verdict::Passed)).count();
    let failed = results.iter().filter(|(_, v)| matches!(v, Verdict::Failed(_))).count();
    let skipped = results.iter().filter(|(_, v)| matches!(v, Verdict::Skipped(_))).count();
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    Ok(failed == 0)
}

fn print_verdict(label: &str, path: &Path, verdict: &Verdict) {
    let mut out = String::new();
    match verdict {
        Verdict::Passed => out.push_str(&format!("PASS [{label}] {}\n", path.display())),
        Verdict::Skipped(reason) => out.push_str(&format!("SKIP [{label}] {} ({reason})\n", path.display())),
        Verdict::Failed(failures) => {
            out.push_str(&format!("FAIL [{label}] {}\n", path.display()));
            for failure in failures {
                out.push_str(&format!("    {failure}\n"));
            }
        }
    }
    print!("{out}");
}
