//! Loading scenario files, finding them in directories, and resolving filter modules.

use super::format::{Backend, FilterDef, Matcher, Scenario};
use anyhow::{anyhow, bail, Context as _};
use std::path::{Path, PathBuf};

/// A filter with its module path and names settled.
#[derive(Debug, Clone)]
pub struct ResolvedFilter {
    /// The scenario's definition.
    pub def: FilterDef,
    /// Absolute path of the module.
    pub wasm: PathBuf,
    /// Plugin name.
    pub name: String,
    /// Root id.
    pub root_id: String,
    /// VM id.
    pub vm_id: String,
}

/// Where artifact names (`wasm: warden_probe.wasm`) are looked up.
pub fn default_wasm_dir() -> PathBuf {
    std::env::var_os("WARDEN_WASM_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/wasm32-wasip1/wasm"))
}

/// Reads and validates a scenario file: unknown fields, bad regexes and restricted backends
/// without a reason are errors naming the file.
pub fn load(path: &Path) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let scenario: Scenario =
        serde_yaml_ng::from_str(&text).map_err(|e| anyhow!("{}: invalid scenario: {e}", path.display()))?;
    if scenario.filters.is_empty() {
        bail!("{}: a scenario needs at least one filter", path.display());
    }
    if scenario.backends.as_ref().is_some_and(|b| b.len() < 2) && scenario.reason.is_none() {
        bail!("{}: `backends` restricts the scenario to one backend; say why in `reason`", path.display());
    }
    if scenario.packagings.is_empty() {
        bail!("{}: `packagings` lists none (give module, suite or both)", path.display());
    }
    for (i, packaging) in scenario.packagings.iter().enumerate() {
        if scenario.packagings[..i].contains(packaging) {
            bail!("{}: `packagings` lists {} twice", path.display(), packaging.name());
        }
        super::packaging::packaged(&scenario, *packaging)
            .map_err(|e| anyhow!("{}: cannot run as {}: {e:#}", path.display(), packaging.name()))?;
    }
    let mut patterns = Vec::new();
    let mut collect = |m: &Matcher| {
        if let Matcher::Rule(rule) = m {
            patterns.extend(rule.matches.clone());
        }
    };
    for request in &scenario.requests {
        request.expect.headers.values().flatten().for_each(&mut collect);
        request.expect.body.iter().for_each(&mut collect);
        request.expect.filter_state.values().flatten().for_each(&mut collect);
    }
    scenario.expect.logs.iter().chain(&scenario.expect.no_logs).for_each(&mut collect);
    for pattern in patterns {
        regex::Regex::new(&pattern).map_err(|e| anyhow!("{}: bad regex {pattern:?}: {e}", path.display()))?;
    }
    Ok(scenario)
}

/// Settles module paths and names. A missing module is an error naming the build command.
pub fn resolve_filters(
    scenario: &Scenario,
    scenario_path: &Path,
    wasm_dir: &Path,
) -> anyhow::Result<Vec<ResolvedFilter>> {
    let base = scenario_path.parent().unwrap_or(Path::new("."));
    scenario
        .filters
        .iter()
        .map(|def| {
            let beside = base.join(&def.wasm);
            let wasm = if beside.exists() { beside } else { wasm_dir.join(&def.wasm) };
            if !wasm.exists() {
                bail!(
                    "{}: wasm module `{}` not found (looked beside the scenario and in {}); build it with `ci/build-wasm`",
                    scenario_path.display(),
                    def.wasm,
                    wasm_dir.display()
                );
            }
            let wasm = wasm.canonicalize().unwrap_or(wasm);
            let stem = Path::new(&def.wasm).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let name = def.name.clone().unwrap_or(stem);
            Ok(ResolvedFilter {
                root_id: def.root_id.clone().unwrap_or_else(|| name.clone()),
                vm_id: def.vm_id.clone().unwrap_or_else(|| name.clone()),
                name,
                wasm,
                def: def.clone(),
            })
        })
        .collect()
}

/// Whether `scenario` runs on `backend`.
pub fn runs_on(scenario: &Scenario, backend: Backend) -> bool {
    scenario.backends.as_ref().is_none_or(|b| b.contains(&backend))
}

/// Every `*.scenario.yaml` under `paths` (files as given, directories walked; `target`,
/// `.git`, `.venv` and `node_modules` skipped), sorted.
pub fn discover(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_file() {
            found.push(path.clone());
        } else if path.is_dir() {
            walk(path, &mut found)?;
        } else {
            bail!("{}: no such file or directory", path.display());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | ".venv" | "node_modules" | ".warden-tmp") {
                walk(&path, found)?;
            }
        } else if name.ends_with(".scenario.yaml") {
            found.push(path);
        }
    }
    Ok(())
}
