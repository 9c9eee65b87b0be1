//! The walkthrough: printed for people to follow (`warden demo`), or run unattended with every
//! step checked (`warden demo --tour`, run by `ci/test` so the demo never rots).

use super::browser::{hidden_fields, Browser};
use super::{http_json, http_text, Running};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use warden_kit::audit::RecordKind;
use warden_kit::ledger::LedgerEntry;

const DELETE_CALL: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_customer","arguments":{"id":42}}}"#;
const PROMPT: &str = "Summarize the complaint from carol.diaz@example.com (card 4111 1111 1111 1111) about her refund.";
const DROP: &str = r#"{"query":"DROP TABLE customers"}"#;
const SELECT: &str = r#"{"query":"SELECT id, name FROM customers"}"#;

fn chat_body() -> Value {
    json!({"model": "demo", "messages": [{"role": "user", "content": PROMPT}]})
}

/// Prints what to try, with this run's ports and tokens.
pub fn walkthrough(r: &Running, exe: &Path) {
    let w = r.envoy_url();
    let s = r.service_url();
    let relative = std::env::current_dir().ok().and_then(|cwd| exe.strip_prefix(cwd).ok().map(Path::to_path_buf));
    let warden = relative.as_deref().unwrap_or(exe).display();
    let log_key = http_json("GET", &format!("{s}/v1/log/key"), None, None)
        .ok()
        .and_then(|(_, v)| v["log_key"].as_str().map(String::from))
        .unwrap_or_default();
    let data = r.data_dir.display();
    println!(
        r#"
Warden demo: Envoy with warden.wasm (identity -> policy -> approval -> mask -> audit) on {w}
  in front of an MCP tool server (/mcp), a SQL endpoint (/sql), an OpenAI-compatible chat
  endpoint (/v1/chat/completions) and a customer API (/customers/<id>).
  Approvals and evidence (warden serve, SQLite): {s}    Envoy admin: http://127.0.0.1:{admin}
  Configuration, database and logs: {data}

Demo identities (tokens signed by a key made at start; `source {data}/tokens.env` sets them):
  AGENT_TOKEN  agent:assistant acting for alice      BOB_TOKEN   bob, a DBA (approves)
  ALICE_TOKEN  alice, an engineer                     ERIN_TOKEN  erin, an auditor
"#,
        admin = r.ports.admin
    );
    for (name, token) in &r.tokens {
        println!("export {}_TOKEN={token}", name.to_uppercase());
    }
    println!(
        r#"
1. The agent calls a destructive MCP tool. Warden holds the call until a DBA approves:
     curl -s {w}/mcp -H "authorization: Bearer $AGENT_TOKEN" -H 'content-type: application/json' \
       -d '{DELETE_CALL}'
   While it waits, open {s}/ui in a browser, sign in as bob (the demo identity provider asks
   for no password) and approve it. alice may not: the agent acted for her.
   Or from a terminal:  WARDEN_TOKEN=$BOB_TOKEN WARDEN_APPROVALS_URL={s} {warden} approvals list / approve <id>
   The curl then completes with the tool's answer.

2. A prompt bound for the LLM: the email and card are masked before the model sees them.
     curl -s {w}/v1/chat/completions -H "authorization: Bearer $AGENT_TOKEN" -H 'content-type: application/json' \
       -d '{chat}'

3. The agent tries DROP TABLE: denied before a byte of it reaches the database (403).
     curl -s {w}/sql -H "authorization: Bearer $AGENT_TOKEN" -H 'content-type: application/json' -d '{DROP}'

4. A customer record: the email and card are masked on the way out.
     curl -s {w}/customers/7 -H "authorization: Bearer $ALICE_TOKEN"

5. The evidence: who ran what, who approved it, what was blocked and what was hidden.
     WARDEN_TOKEN=$ERIN_TOKEN {warden} audit export --url {s} --out {data}/evidence.json
     {warden} audit show {data}/evidence.json
     {warden} audit verify --log-key '{log_key}' {data}/evidence.json
   (the log key is the ledger's public key: GET {s}/v1/log/key)

`warden demo --tour` runs all of this unattended. Ctrl-C stops everything.
"#,
        chat = chat_body()
    );
}

/// The checks of one tour run.
struct Checks {
    failed: usize,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool, detail: impl std::fmt::Display) {
        if ok {
            println!("  ok    {name}");
        } else {
            self.failed += 1;
            println!("  FAIL  {name}\n        {detail}");
        }
    }
}

fn show(command: &str) {
    println!("  $ {command}");
}

fn short(text: &str) -> String {
    let line = text.trim().replace('\n', " ");
    match line.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line,
    }
}

/// `warden <args>` as a child, with WARDEN_TOKEN and the service URL set.
fn warden(exe: &Path, r: &Running, token: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(exe);
    command.args(args).env("WARDEN_APPROVALS_URL", r.service_url()).env_remove("WARDEN_TOKEN");
    if let Some(token) = token {
        command.env("WARDEN_TOKEN", token);
    }
    command.output().unwrap_or_else(|e| std::process::Output {
        status: std::process::ExitStatus::default(),
        stdout: Vec::new(),
        stderr: format!("cannot run {}: {e}", exe.display()).into_bytes(),
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the walkthrough, printing each step's result; true when every check passed.
pub fn run(r: &Running, exe: &Path) -> bool {
    let mut c = Checks { failed: 0 };
    let w = r.envoy_url();
    let s = r.service_url();

    println!("\n[1/5] The agent (acting for alice) calls the destructive MCP tool delete_customer: held for a DBA");
    show(&format!("curl -s {w}/mcp -H \"authorization: Bearer $AGENT_TOKEN\" -d '{DELETE_CALL}'"));
    let call: Value = serde_json::from_str(DELETE_CALL).unwrap_or_default();
    let (agent, url) = (r.token("agent").to_string(), format!("{w}/mcp"));
    let sent_at = Instant::now();
    let held = std::thread::spawn(move || (http_text("POST", &url, Some(&agent), Some(&call)), Instant::now()));
    let pending = wait(Duration::from_secs(20), || {
        let (_, list) = http_json("GET", &format!("{s}/v1/approvals"), Some(r.token("bob")), None).ok()?;
        list["approvals"].as_array()?.first()?["id"].as_str().map(String::from)
    });
    let id = pending.clone().unwrap_or_default();
    c.check(
        &format!("held as {id}, shown to bob; its page: {s}/ui/approvals/{id}"),
        pending.is_some() && !held.is_finished(),
        "no pending approval for bob within 20 s",
    );
    c.check(
        "the tool server has not seen the call while it is held",
        r.seen[0].lines().is_empty(),
        format!("{:?}", r.seen[0].lines()),
    );
    show(&format!("WARDEN_TOKEN=$ALICE_TOKEN warden approvals approve {id}"));
    let own = warden(exe, r, Some(r.token("alice")), &["approvals", "approve", &id]);
    c.check(
        "alice cannot approve what is done for her (not_eligible)",
        !own.status.success() && text(&own.stderr).contains("not_eligible"),
        text(&own.stderr),
    );
    println!("  bob opens {s}/ui/approvals/{id}, signs in with the demo identity provider and approves");
    let web = approve_on_the_web(r, &id);
    let decided_at = web.as_ref().map_or_else(|_| Instant::now(), |(_, pressed_at)| *pressed_at);
    match web {
        Ok((seen, _)) => c.check(
            "bob signed in, saw the held call (agent:assistant for alice, tool delete_customer) and approved it",
            seen.contains("delete_customer") && seen.contains("agent:assistant"),
            short(&seen),
        ),
        Err(e) => c.check("bob approves on the web page", false, format!("{e:#}")),
    }
    let (answer, answered_at) =
        held.join().unwrap_or_else(|_| (Err(anyhow::anyhow!("the sender panicked")), Instant::now()));
    let (status, body) = answer.unwrap_or((0, String::new()));
    // What Warden adds beyond the human: from bob pressing Approve to the agent's answer.
    let after_decision = answered_at.saturating_duration_since(decided_at).as_secs_f64() * 1000.0;
    c.check(
        &format!(
            "the held call then completes, {after_decision:.1} ms after bob pressed Approve \
             ({} ms after it was sent): {status} {}",
            answered_at.saturating_duration_since(sent_at).as_millis(),
            short(&body)
        ),
        status == 200 && body.contains("customer 42 deleted"),
        &body,
    );
    c.check(
        "the tool ran exactly once",
        r.seen[0].lines() == vec!["tools/call delete_customer {\"id\":42}".to_string()],
        format!("{:?}", r.seen[0].lines()),
    );

    println!("\n[2/5] A prompt bound for the LLM carries an email and a card number");
    show(&format!("curl -s {w}/v1/chat/completions -H \"authorization: Bearer $AGENT_TOKEN\" -d '{}'", chat_body()));
    let answer = http_text("POST", &format!("{w}/v1/chat/completions"), Some(r.token("agent")), Some(&chat_body()));
    let (status, _) = answer.unwrap_or((0, String::new()));
    let model_saw = r.seen[2].lines().pop().unwrap_or_default();
    c.check(
        &format!("{status}; the model saw: {model_saw}"),
        status == 200
            && model_saw.contains("[EMAIL]")
            && !model_saw.contains("carol.diaz@example.com")
            && !model_saw.contains("4111 1111"),
        "expected the email and card masked",
    );

    println!("\n[3/5] The agent sends SQL: a SELECT passes, DROP TABLE is denied");
    show(&format!("curl -s {w}/sql -H \"authorization: Bearer $AGENT_TOKEN\" -d '{DROP}'"));
    let select: Value = serde_json::from_str(SELECT).unwrap_or_default();
    let drop: Value = serde_json::from_str(DROP).unwrap_or_default();
    let (selected, _) =
        http_text("POST", &format!("{w}/sql"), Some(r.token("agent")), Some(&select)).unwrap_or((0, String::new()));
    let (status, body) =
        http_text("POST", &format!("{w}/sql"), Some(r.token("agent")), Some(&drop)).unwrap_or((0, String::new()));
    c.check(
        &format!("SELECT: {selected}; DROP TABLE: {status} {}", short(&body)),
        selected == 200 && status == 403,
        &body,
    );
    c.check(
        "the database never received the DROP",
        !r.seen[1].lines().iter().any(|q| q.contains("DROP")),
        format!("{:?}", r.seen[1].lines()),
    );

    println!("\n[4/5] alice reads a customer record: the email and card are masked on the way out");
    show(&format!("curl -s {w}/customers/7 -H \"authorization: Bearer $ALICE_TOKEN\""));
    let (status, body) =
        http_text("GET", &format!("{w}/customers/7"), Some(r.token("alice")), None).unwrap_or((0, String::new()));
    c.check(
        &format!("{status} {}", short(&body)),
        status == 200
            && body.contains("[EMAIL]")
            && !body.contains("carol.diaz@example.com")
            && !body.contains("4111 1111"),
        &body,
    );

    println!("\n[5/5] The evidence: an auditor exports it, reads it, and verifies it offline");
    evidence(r, exe, &id, &mut c);

    if c.failed == 0 {
        println!("\ntour passed: every step did what it should");
    } else {
        println!("\ntour FAILED: {} check(s)", c.failed);
    }
    c.failed == 0
}

/// What bob's browser does: open the approval's page, sign in through the demo identity
/// provider, approve with a reason. Returns the page as bob saw it before deciding, and when he
/// pressed Approve.
fn approve_on_the_web(r: &Running, id: &str) -> anyhow::Result<(String, Instant)> {
    let mut bob = Browser::default();
    let page_url = format!("{}/ui/approvals/{id}", r.service_url());
    // Not signed in: the page sends bob to the provider's sign-in page.
    let sign_in = bob.open(&page_url)?;
    anyhow::ensure!(
        sign_in.status == 200 && sign_in.body.contains("Sign in as bob"),
        "no sign-in page: {}",
        sign_in.status
    );
    let mut form = hidden_fields(&sign_in.body);
    form.push(("person".into(), "bob".into()));
    let idp = format!("http://127.0.0.1:{}/authorize", r.ports.idp);
    let back = bob.post(&idp, &form)?;
    let callback = back.location.ok_or_else(|| anyhow::anyhow!("the provider did not redirect: {}", back.status))?;
    let signed_in = bob.open(&callback)?;
    // The callback answers with a page that refreshes to where bob was going (a redirect would
    // not carry the SameSite=Strict session cookie).
    anyhow::ensure!(signed_in.body.contains("http-equiv=\"refresh\""), "sign-in failed: {}", short(&signed_in.body));
    let page = bob.open(&page_url)?;
    anyhow::ensure!(page.status == 200 && page.body.contains("Approve"), "no Approve button: {}", short(&page.body));
    // The page's forms (decide, sign out) carry the same CSRF token.
    let csrf = hidden_fields(&page.body).into_iter().find(|(name, _)| name == "csrf");
    let mut decision: Vec<(String, String)> = csrf.into_iter().collect();
    decision.push(("decision".into(), "approve".into()));
    decision.push(("reason".into(), "ticket OPS-7".into()));
    let pressed_at = Instant::now();
    let decided = bob.post(&page_url, &decision)?;
    anyhow::ensure!(
        decided.status == 303,
        "the decision was not recorded: {} {}",
        decided.status,
        short(&decided.body)
    );
    Ok((page.body, pressed_at))
}

/// The requests the tour sent, as (method, path, status) the ledger must hold.
const RECORDED: [(&str, &str, u32); 5] = [
    ("POST", "/mcp", 200),
    ("POST", "/v1/chat/completions", 200),
    ("POST", "/sql", 200),
    ("POST", "/sql", 403),
    ("GET", "/customers/7", 200),
];

/// The approval events the held call leaves in the ledger, in order.
const APPROVAL_EVENTS: [&str; 4] = ["created", "voted", "approved", "consumed"];

fn evidence(r: &Running, exe: &Path, approval_id: &str, c: &mut Checks) {
    let bundle = r.data_dir.join("evidence.json");
    let bundle_arg = bundle.display().to_string();
    show(&format!("WARDEN_TOKEN=$ERIN_TOKEN warden audit export --out {bundle_arg}"));
    // Records reach the ledger within a flush (100 ms) and a checkpoint: export until all are in.
    let exported = wait(Duration::from_secs(30), || {
        let out = warden(exe, r, Some(r.token("erin")), &["audit", "export", "--out", &bundle_arg]);
        let entries = read_entries(&bundle)?;
        let requests = RECORDED.iter().all(|(method, path, status)| {
            entries.iter().any(|e| match e {
                LedgerEntry::Record(r) => {
                    r.kind == RecordKind::Request
                        && r.what.as_ref().is_some_and(|w| w.method == *method && w.path == *path)
                        && r.outcome.as_ref().is_some_and(|o| o.status == *status)
                }
                LedgerEntry::ApprovalEvent(_) => false,
            })
        });
        let events: Vec<&str> = entries
            .iter()
            .filter_map(|e| match e {
                LedgerEntry::ApprovalEvent(event) if event.approval_id == approval_id => Some(event.event.as_str()),
                _ => None,
            })
            .collect();
        let complete = requests && events == APPROVAL_EVENTS;
        (out.status.success() && complete).then_some(entries)
    });
    c.check(
        "exported: every request of the tour, and the approval's events (created, voted, approved, consumed), are in the ledger",
        exported.is_some(),
        "the ledger did not hold every request within 30 s",
    );
    show(&format!("warden audit show {bundle_arg}"));
    let shown = warden(exe, r, None, &["audit", "show", &bundle_arg]);
    println!("    (entry 0 is the demo's own check that the chain is up)");
    for line in text(&shown.stdout).lines() {
        println!("    {line}");
    }
    let timeline = text(&shown.stdout);
    c.check(
        "the timeline says who ran what, who approved it and what was refused",
        timeline.contains("approved by bob") && timeline.contains("agent:assistant") && timeline.contains("403"),
        &timeline,
    );
    let log_key = http_json("GET", &format!("{}/v1/log/key", r.service_url()), None, None)
        .ok()
        .and_then(|(_, v)| v["log_key"].as_str().map(String::from))
        .unwrap_or_default();
    show(&format!("warden audit verify --log-key '{log_key}' {bundle_arg}"));
    let verified = warden(exe, r, None, &["audit", "verify", "--log-key", &log_key, &bundle_arg]);
    for line in text(&verified.stdout).lines() {
        println!("    {line}");
    }
    c.check(
        "verified offline against the ledger's key",
        verified.status.success() && text(&verified.stdout).contains("verified"),
        text(&verified.stderr),
    );
    let evidence = std::fs::read_to_string(&bundle).unwrap_or_default();
    let leaked: Vec<&str> = r
        .tokens
        .iter()
        .map(|(_, t)| t.as_str())
        .chain([r.proxy_key.as_str(), "carol.diaz@example.com", "4111 1111 1111 1111"])
        .filter(|secret| evidence.contains(secret))
        .collect();
    c.check(
        "no token, key, email or card number is in the evidence",
        !evidence.is_empty() && leaked.is_empty(),
        format!("{} secret(s) found", leaked.len()),
    );
}

/// The bundle's entries, each read as a ledger entry; `None` while the bundle or any entry is
/// not readable.
fn read_entries(bundle: &Path) -> Option<Vec<LedgerEntry>> {
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(bundle).ok()?).ok()?;
    bundle["entries"].as_array()?.iter().map(|e| e.as_str().and_then(|s| serde_json::from_str(s).ok())).collect()
}

fn wait<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
