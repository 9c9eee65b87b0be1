//! `warden`: the one command for people working with Warden filters: run scenarios in the
//! harness or a real Envoy (`test`), measure a chain (`bench`), check, test and explain
//! policies (`policy`), run the approval service (`serve`), decide approvals (`approvals`), read
//! evidence (`audit`) and see all of it work together (`demo`). Commands print what they found
//! and exit 0 (all good), 1 (something failed) or 2 (could not run: bad arguments or files).

mod approvals;
mod audit;
mod audit_replay;
mod audit_report;
mod audit_search;
#[cfg(feature = "harness")]
mod component;
mod config_check;
mod config_schema;
#[cfg(feature = "harness")]
mod demo;
mod policy;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
#[cfg(feature = "harness")]
use warden_host_test::{
    bench,
    scenario::resolve::default_wasm_dir,
    scenario::run::{run_all, TestOptions},
    scenario::Backend,
};

#[derive(Parser)]
/// Warden: runtime control in front of what AI agents and people can reach.
///
/// One binary for each part of the suite, as you meet it:
///
///   Try it:           demo (the whole product on 127.0.0.1, `--tour` to walk it unattended)
///
///   Run the services: serve (approval service and evidence ledger), approvals (decide from a
///                     terminal)
///
///   Audit:            audit (export, verify offline, show, search, replay, report)
///
///   Deploy filters:   config (check Envoy and Istio files, write schemas), policy (check,
///                     test, explain, publish policies)
///
///   Develop filters:  test (scenarios in the harness or Envoy), bench, component (the
///                     wasi:http packaging)
#[command(name = "warden", version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The demo's identity provider alone, for tests that sign people in to the approval
    /// pages (examples/approvals/verify): loopback only, no passwords; prints each sign-in and
    /// token exchange.
    #[cfg(feature = "harness")]
    #[command(name = "demo-idp", hide = true)]
    DemoIdp {
        /// Listen address (loopback).
        #[arg(long)]
        listen: String,
        /// The one client's id.
        #[arg(long)]
        client_id: String,
        /// File holding the client's secret.
        #[arg(long)]
        client_secret_file: PathBuf,
        /// The client's callback URL.
        #[arg(long)]
        redirect_uri: String,
        /// Who may sign in: `name` or `name:group,group` (repeat).
        #[arg(long = "person")]
        people: Vec<String>,
    },
    #[cfg(feature = "harness")]
    /// The whole product on 127.0.0.1: Envoy with warden.wasm (identity, policy, approval,
    /// mask, audit) in front of demo upstreams, and `warden serve`; prints a walkthrough and
    /// runs until Ctrl-C (`--tour`: runs the walkthrough unattended, checking every step).
    Demo {
        /// Run the walkthrough unattended on free ports, print each step's result, then stop
        /// (exit 1 if a step failed).
        #[arg(long)]
        tour: bool,
        /// Configuration, database, keys and logs (emptied at start).
        #[arg(long, default_value = ".warden-tmp/demo")]
        data_dir: PathBuf,
        /// Envoy binary (default: $WARDEN_ENVOY, .venv/bin/envoy, then PATH).
        #[arg(long)]
        envoy_bin: Option<PathBuf>,
        /// Directory holding warden.wasm.
        #[arg(long)]
        wasm_dir: Option<PathBuf>,
        /// Free ports instead of the fixed ones (written to demo.json in the data directory).
        #[arg(long)]
        free_ports: bool,
        /// Envoy worker threads.
        #[arg(long, default_value_t = 1)]
        concurrency: u32,
        /// warden serve's database (default: SQLite in the data directory).
        #[arg(long)]
        database: Option<String>,
        /// warden serve replicas behind Envoy (more than one needs --database postgres://...).
        #[arg(long, default_value_t = 1)]
        replicas: usize,
    },
    /// Run the approval service (SQLite in warden-data/ unless configured otherwise).
    Serve {
        /// Configuration file (YAML or JSON); see services/approvals/README.md.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Database URL (`sqlite://<file>` or `postgres://...`), overriding the file's.
        #[arg(long)]
        database: Option<String>,
        /// Listen address, overriding the file's (default 127.0.0.1:8731).
        #[arg(long)]
        listen: Option<String>,
        /// Validate the configuration and exit.
        #[arg(long)]
        check: bool,
    },
    /// Decide approvals from a terminal, as a person (token from --token or $WARDEN_TOKEN).
    Approvals {
        /// Approval service URL.
        #[arg(long, env = "WARDEN_APPROVALS_URL", default_value = "http://127.0.0.1:8731")]
        url: String,
        /// Your bearer token (a JWT from a provider the service trusts).
        #[arg(long, env = "WARDEN_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[command(subcommand)]
        command: ApprovalsCommand,
    },
    /// Evidence: export a bundle from the ledger, verify one offline, show or search its
    /// records, replay a decision, write a report.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Check deployment files before they reach a proxy; write the configuration schemas.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Tools for policy authors: check, test and explain policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    #[cfg(feature = "harness")]
    /// Run `*.scenario.yaml` files (directories are searched) in the harness, or in Envoy.
    Test {
        /// Scenario files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Run through a real Envoy 1.40 on loopback instead of the harness.
        #[arg(long)]
        envoy: bool,
        /// Envoy binary (default: $WARDEN_ENVOY, .venv/bin/envoy, then PATH).
        #[arg(long)]
        envoy_bin: Option<PathBuf>,
        /// Directory where artifact names are looked up.
        #[arg(long)]
        wasm_dir: Option<PathBuf>,
        /// Scenarios run at once (default: CPU count in the harness, 2 with Envoy).
        #[arg(long)]
        jobs: Option<usize>,
    },
    #[cfg(feature = "harness")]
    /// Measure the harness cost per request of a scenario's filter chain.
    Bench {
        /// The scenario file.
        scenario: PathBuf,
        /// Requests to time (the scenario's requests, replayed in turn).
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
        /// Directory where artifact names are looked up.
        #[arg(long)]
        wasm_dir: Option<PathBuf>,
        /// Measure the scenario under the component packaging (warden_component.wasm on
        /// wasmtime's wasi:http): `per-request` (a new instance per request, as `wasmtime
        /// serve`), `reused` (one instance for every request) or `baked` (a new instance per
        /// request of the component baked with the scenario's settings).
        #[arg(long, value_parser = ["per-request", "reused", "baked"])]
        component: Option<String>,
    },
    #[cfg(feature = "harness")]
    /// Warden as a wasi:http component: serve it (as `wasmtime serve` does) or bake it.
    Component {
        #[command(subcommand)]
        command: ComponentCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Find every Warden plugin in Envoy configuration, Istio `WasmPlugin` or Envoy Gateway
    /// `EnvoyExtensionPolicy` files and compile its configuration as the filter does at load;
    /// errors name the field (exit 1 if any fails or a file holds no Warden plugin).
    Check {
        /// Files (YAML or JSON; several documents each).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write the JSON Schemas of every stage's configuration and of warden.wasm's (made from
    /// the configuration types), or check committed ones for drift.
    Schema {
        /// Write them into this directory.
        #[arg(long, conflicts_with = "check")]
        out: Option<PathBuf>,
        /// Compare them with the files in this directory (exit 1 on any difference).
        #[arg(long)]
        check: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ApprovalsCommand {
    /// Pending approvals you may decide.
    List,
    /// One approval in full.
    Show {
        /// Approval id.
        id: String,
    },
    /// Approve.
    Approve {
        /// Approval id.
        id: String,
        /// Why (optional).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Deny, with a reason.
    Deny {
        /// Approval id.
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Break-glass: decide alone (break-glass group), with a reason; recorded as forced.
    Force {
        /// Approval id.
        id: String,
        /// `approve` or `deny`.
        #[arg(long, value_parser = ["approve", "deny"])]
        decision: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Print the SHA-256 of a proxy key, for `proxies[].key_sha256` in the service config.
    HashKey {
        /// The key.
        key: String,
    },
}

/// The keys an auditor trusts, given on the command line.
#[derive(clap::Args)]
struct TrustArgs {
    /// The log's verifier key you trust (`<origin>+<id>+<key>`; `GET /v1/log/key`).
    #[arg(long)]
    log_key: String,
    /// Witness verifier keys you trust.
    #[arg(long = "witness-key")]
    witness_keys: Vec<String>,
    /// Cosignatures each checkpoint must carry.
    #[arg(long, default_value_t = 0)]
    witnesses: usize,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Fetch an offline evidence bundle from the ledger (you must be in its auditors' group).
    Export {
        /// Ledger URL (`warden serve`).
        #[arg(long, env = "WARDEN_APPROVALS_URL", default_value = "http://127.0.0.1:8731")]
        url: String,
        /// Your bearer token.
        #[arg(long, env = "WARDEN_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// First entry (the bundle starts at the checkpoint at or before it).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// End (exclusive; the bundle ends at the checkpoint at or before it). Default: newest.
        #[arg(long)]
        to: Option<u64>,
        /// Entries to include an inclusion proof for.
        #[arg(long, default_value_t = 16)]
        sample: u64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a bundle offline: signatures, cosignatures, the tree, consistency, every
    /// record's form, per-VM sequences and gaps. Exit 0 only if everything holds.
    Verify {
        /// The bundle.
        bundle: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Print a bundle's records as a timeline.
    Show {
        /// The bundle.
        bundle: PathBuf,
    },
    /// Print the bundle's entries that match every criterion given, as timeline lines
    /// (exit 0 if any matched, 1 if none did).
    Search {
        /// The bundle.
        bundle: PathBuf,
        /// The caller's subject, an actor acting for it, or an approver.
        #[arg(long)]
        who: Option<String>,
        /// Text in the action: path, MCP method or tool, SQL class or table.
        #[arg(long)]
        action: Option<String>,
        /// The decision's effect (allow, deny, require_approval, ...).
        #[arg(long)]
        effect: Option<String>,
        /// An approval id.
        #[arg(long)]
        approval: Option<String>,
        /// The status sent downstream.
        #[arg(long)]
        status: Option<u32>,
        /// Entry kind: request, gap, intent, approval_event.
        #[arg(long, value_parser = audit_search::parse_kind)]
        kind: Option<warden_kit::ledger::EntryKind>,
        /// Only requests where something was masked.
        #[arg(long)]
        masked: bool,
        /// Only requests Warden refused (by policy or at approval), whatever status carried
        /// the refusal (an MCP call refused with a JSON-RPC error is answered 200).
        #[arg(long)]
        refused: bool,
        /// From this time on (RFC 3339, e.g. 2026-11-26T10:00:00Z, or milliseconds since the epoch).
        #[arg(long, value_parser = audit_search::parse_time)]
        since: Option<u64>,
        /// Before this time (same forms as --since).
        #[arg(long, value_parser = audit_search::parse_time)]
        until: Option<u64>,
    },
    /// Re-decide a recorded request with the policy its decision names (from the bundle) and
    /// the recorded identity: same decision (exit 0) or exactly how it differs (exit 1).
    Replay {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's index in the log.
        index: u64,
    },
    /// Verify a bundle, then write a Markdown report for auditors: the population, gaps,
    /// samples with proofs, and the controls each part supports. Exit 0 only if it verified.
    Report {
        /// The bundle.
        bundle: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// `soc2` or `nist-800-53`.
        #[arg(long, value_parser = ["soc2", "nist-800-53"])]
        framework: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `warden component` subcommands.
#[cfg(feature = "harness")]
#[derive(Subcommand)]
enum ComponentCommand {
    /// Serve a Warden component on wasmtime's wasi:http (a new instance per request, as
    /// `wasmtime serve`), optionally in front of a wasi:http handler component.
    Serve {
        /// The component (warden_component.wasm, or one `bake` wrote).
        component: PathBuf,
        /// Settings: a JSON object of the wasi:config keys (warden_config, warden_upstream, ...).
        #[arg(long)]
        settings: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// A wasi:http handler component that answers requests forwarded to warden_upstream's
        /// authority (host-side chaining).
        #[arg(long)]
        next: Option<PathBuf>,
    },
    /// Write a pre-initialised component with the settings compiled in (wasmtime's wizer).
    Bake {
        /// The component to bake (warden_component.wasm).
        component: PathBuf,
        /// Settings: a JSON object of the wasi:config keys.
        #[arg(long)]
        settings: PathBuf,
        /// Where to write the baked component.
        #[arg(long, short)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate and compile policy files and print each one's version; errors name the file,
    /// rule id and field.
    Check {
        /// Policy files (YAML or JSON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run the `cases.yaml` of every policy pack (folder with policy.yaml and cases.yaml).
    Test {
        /// Pack folders, or folders holding packs.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Show the decision for one request and how each rule judged it.
    Explain {
        /// The policy file.
        #[arg(long)]
        policy: PathBuf,
        /// The request file (request, identity, now: as in cases.yaml).
        #[arg(long)]
        request: PathBuf,
    },
    /// Publish a policy to the evidence ledger under its version, so every decision naming
    /// that version can be re-checked later. FILE: a policy stage's configuration or one
    /// policy document.
    Publish {
        /// The policy file (YAML or JSON).
        file: PathBuf,
        /// `warden serve`'s URL.
        #[arg(long, env = "WARDEN_APPROVALS_URL", default_value = "http://127.0.0.1:8731")]
        url: String,
        /// A proxy key `warden serve` knows (the key policies are deployed with).
        #[arg(long, env = "WARDEN_PROXY_KEY", hide_env_values = true)]
        key: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "harness")]
        Command::Test { paths, envoy, envoy_bin, wasm_dir, jobs } => (|| {
            let backend = if envoy { Backend::Envoy } else { Backend::Harness };
            let envoy_path = match (envoy, envoy_bin) {
                (true, Some(bin)) => Some(bin),
                (true, None) => Some(warden_host_test::scenario::envoy::find_envoy()?),
                (false, _) => None,
            };
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
            let options = TestOptions {
                backend,
                wasm_dir: wasm_dir.unwrap_or_else(default_wasm_dir),
                jobs: jobs.unwrap_or(if envoy { 2 } else { cpus }),
                envoy: envoy_path,
                work_dir: PathBuf::from(".warden-tmp/envoy"),
                warden: std::env::current_exe().ok(),
            };
            run_all(&paths, &options)
        })(),
        Command::Policy { command } => match command {
            PolicyCommand::Check { files } => policy::check(&files),
            PolicyCommand::Test { paths } => policy::test(&paths),
            PolicyCommand::Explain { policy, request } => policy::explain(&policy, &request),
            PolicyCommand::Publish { file, url, key } => policy::publish(&file, &url, &key),
        },
        #[cfg(feature = "harness")]
        Command::Component { command } => match command {
            ComponentCommand::Serve { component: wasm, settings, listen, next } => {
                component::serve(&wasm, &settings, &listen, next.as_deref())
            }
            ComponentCommand::Bake { component: wasm, settings, out } => component::bake(&wasm, &settings, &out),
        },
        #[cfg(feature = "harness")]
        Command::Bench { scenario, iterations, wasm_dir, component } => {
            let wasm_dir = wasm_dir.unwrap_or_else(default_wasm_dir);
            match component.as_deref() {
                None => bench::run(&scenario, iterations, &wasm_dir).map(|_| true),
                Some(hosting) => {
                    let hosting = match hosting {
                        "reused" => bench::ComponentHosting::ReusedInstance,
                        "baked" => bench::ComponentHosting::BakedInstancePerRequest,
                        _ => bench::ComponentHosting::InstancePerRequest,
                    };
                    let dir = warden_host_test::scenario::run::component_dir(&wasm_dir);
                    bench::run_component(&scenario, iterations, &dir, hosting).map(|_| true)
                }
            }
        }
        Command::Serve { config, database, listen, check } => {
            serve::run(serve::ServeOptions { config: config.as_deref(), database, listen, check })
        }
        #[cfg(feature = "harness")]
        Command::DemoIdp { listen, client_id, client_secret_file, redirect_uri, people } => {
            demo::identity_provider(&listen, &client_id, &client_secret_file, &redirect_uri, &people)
        }
        #[cfg(feature = "harness")]
        Command::Demo { tour, data_dir, envoy_bin, wasm_dir, free_ports, concurrency, database, replicas } => {
            demo::run(demo::DemoOptions {
                tour,
                data_dir,
                envoy: envoy_bin,
                wasm_dir: wasm_dir.unwrap_or_else(default_wasm_dir),
                free_ports,
                concurrency,
                database,
                replicas,
            })
        }
        Command::Config { command: ConfigCommand::Check { files } } => config_check::check(&files),
        Command::Config { command: ConfigCommand::Schema { out, check } } => match (out, check) {
            (_, Some(dir)) => config_schema::check(&dir),
            (Some(dir), None) => config_schema::write(&dir),
            (None, None) => config_schema::write(std::path::Path::new(config_schema::COMMITTED)),
        },
        Command::Audit { command } => match command {
            AuditCommand::Export { url, token, from, to, sample, out } => match token {
                Some(token) => audit::export(&url, &token, from, to, sample, &out),
                None => Err(anyhow::anyhow!("give your token with --token or $WARDEN_TOKEN")),
            },
            AuditCommand::Verify { bundle, trust } => {
                audit::verify(&bundle, &trust.log_key, &trust.witness_keys, trust.witnesses)
            }
            AuditCommand::Show { bundle } => audit::show(&bundle),
            AuditCommand::Search {
                bundle,
                who,
                action,
                effect,
                approval,
                status,
                kind,
                masked,
                refused,
                since,
                until,
            } => {
                let query = audit_search::Query {
                    who,
                    action,
                    effect,
                    approval,
                    status,
                    kind,
                    masked,
                    refused,
                    since_ms: since,
                    until_ms: until,
                };
                audit::search(&bundle, &query)
            }
            AuditCommand::Replay { bundle, index } => audit_replay::replay(&bundle, index),
            AuditCommand::Report { bundle, trust, framework, out } => {
                audit::report(&bundle, &trust.log_key, &trust.witness_keys, trust.witnesses, &framework, out.as_deref())
            }
        },
        Command::Approvals { command: ApprovalsCommand::HashKey { key }, .. } => {
            println!("{}", warden_approval_service::config::key_sha256(&key));
            Ok(true)
        }
        Command::Approvals { url, token, command } => (|| {
            let token = token.ok_or_else(|| anyhow::anyhow!("give your token with --token or $WARDEN_TOKEN"))?;
            let client = approvals::Client { url, token };
            match command {
                ApprovalsCommand::List => approvals::list(&client),
                ApprovalsCommand::Show { id } => approvals::show(&client, &id),
                ApprovalsCommand::Approve { id, reason } => {
                    approvals::decide(&client, &id, approvals::Decision::Approve(reason))
                }
                ApprovalsCommand::Deny { id, reason } => {
                    approvals::decide(&client, &id, approvals::Decision::Deny(Some(reason)))
                }
                ApprovalsCommand::Force { id, decision, reason } => {
                    let decision = warden_kit::approval_api::VoteDecision::parse(&decision)
                        .ok_or_else(|| anyhow::anyhow!("--decision: approve or deny"))?;
                    approvals::decide(&client, &id, approvals::Decision::Force(decision, reason))
                }
                ApprovalsCommand::HashKey { .. } => Ok(true),
            }
        })(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("warden: {err:#}");
            ExitCode::from(2)
        }
    }
}
