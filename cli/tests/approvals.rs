//! `warden serve` and `warden approvals` as people run them: a real server process on
//! loopback (SQLite in a temporary directory), decided from the terminal client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../services/approvals/tests/all/common/people.rs"]
mod people;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

struct Served {
    child: Child,
    url: String,
    dir: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(name: &str) -> Served {
    let dir = std::env::temp_dir().join(format!("warden-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("approvals.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ndatabase: sqlite://{}/approvals.db\nsigning_key_file: {}/signing.key\nevidence: {{signing_key_file: {}/evidence.key}}\nproxies: [{{name: envoy, key_sha256: {}}}]\n{}",
            dir.display(),
            dir.display(),
            dir.display(),
            warden_approval_service::config::key_sha256(people::PROXY_KEY),
            people::approvers_yaml()
        ),
    )
    .unwrap();
    let mut child = Command::new(WARDEN)
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect(&first).to_string();
    Served { child, url, dir }
}

fn warden(served: &Served, token: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(WARDEN)
        .arg("approvals")
        .args(args)
        .env("WARDEN_APPROVALS_URL", &served.url)
        .env("WARDEN_TOKEN", token)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn create(served: &Served) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let body = json!({
        "digest": format!("sha256:{}", "c".repeat(64)),
        "requester": {"subject": "alice", "issuer": people::ISSUER, "kind": "human"},
        "action": {"method": "DELETE", "authority": "api.internal", "path": "/customers/42", "rules": ["deletes-need-approval"]},
        "requirement": {"groups": ["dba"], "pending_ttl_secs": 600, "use_by_secs": 300}
    });
    let mut response = agent
        .post(&format!("{}/v1/approvals", served.url))
        .header("authorization", &format!("Bearer {}", people::PROXY_KEY))
        .send(body.to_string())
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let value: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    value["id"].as_str().unwrap().to_string()
}

#[test]
fn a_person_lists_and_approves_from_the_terminal_and_the_requester_cannot() {
    let served = serve("approve");
    let id = create(&served);
    let bob = people::person("bob", &["dba"]);
    let (ok, out, _) = warden(&served, &bob, &["list"]);
    assert!(ok);
    assert!(out.contains(&id) && out.contains("DELETE api.internal/customers/42") && out.contains("by alice"), "{out}");
    let (ok, _, err) = warden(&served, &people::person("alice", &["dba"]), &["approve", &id]);
    assert!(!ok);
    assert!(err.contains("403 not_eligible"), "{err}");
    let (ok, out, _) = warden(&served, &bob, &["approve", &id, "--reason", "ticket OPS-7"]);
    assert!(ok);
    assert_eq!(out.trim(), format!("{id}: approved"));
    let (ok, out, _) = warden(&served, &bob, &["show", &id]);
    assert!(ok && out.contains("\"status\": \"approved\"") && out.contains("ticket OPS-7"), "{out}");
    assert!(!out.contains(&bob), "the token is never printed");
}

#[test]
fn deny_needs_a_reason_and_a_bad_token_is_refused() {
    let served = serve("deny");
    let id = create(&served);
    let out = Command::new(WARDEN).args(["approvals", "deny", &id]).env("WARDEN_TOKEN", "x").output().unwrap();
    assert!(!out.status.success(), "clap requires --reason");
    let (ok, _, err) = warden(&served, "not-a-token", &["list"]);
    assert!(!ok && err.contains("401 unauthenticated"), "{err}");
    let (ok, out, _) = warden(&served, &people::person("bob", &["dba"]), &["deny", &id, "--reason", "freeze"]);
    assert!(ok && out.contains("denied"), "{out}");
}

#[test]
fn serve_check_names_the_wrong_field() {
    let dir = std::env::temp_dir().join(format!("warden-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("bad.yaml");
    std::fs::write(&config, "proxies: [{name: envoy, key_sha256: nothex}]\n").unwrap();
    let out = Command::new(WARDEN).args(["serve", "--check", "--config"]).arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("proxies[0].key_sha256"));
    std::fs::write(&config, "listen: 127.0.0.1:0\n").unwrap();
    let out = Command::new(WARDEN).args(["serve", "--check", "--config"]).arg(&config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_without_a_configuration_file_keeps_its_data_in_warden_data() {
    let dir = std::env::temp_dir().join(format!("warden-cli-fresh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(WARDEN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect(&first).to_string();
    let mut health = ureq::get(&format!("{url}/healthz")).call().unwrap();
    assert_eq!(health.body_mut().read_to_string().unwrap(), r#"{"status":"ok"}"#);
    assert!(dir.join("warden-data/approvals.db").exists());
    assert_eq!(std::fs::read(dir.join("warden-data/approvals-signing.key")).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("warden-data/approvals-signing.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the signing key is private to its owner");
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
