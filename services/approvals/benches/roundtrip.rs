//! Benchmark (ci/bench): create → approve → consume round trips through the HTTP API (the
//! axum router in process, people's tokens verified, real storage), on SQLite and, when
//! `WARDEN_TEST_POSTGRES` answers, on PostgreSQL. Prints p50 and p99 per round trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/all/common/people.rs"]
mod people;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use warden_approval_service::config::{key_sha256, parse};
use warden_approval_service::http::{router, App};

async fn call(app: &Arc<App>, method: &str, path: &str, bearer: &str, body: Value) -> Value {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {bearer}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router(app.clone()).oneshot(request).await.unwrap();
    assert!(response.status().is_success(), "{method} {path}: {}", response.status());
    serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

async fn run(label: &str, database: String, dir: &std::path::Path, rounds: usize) {
    let yaml = format!(
        "database: {database}\nsigning_key_file: {}\nproxies: [{{name: bench, key_sha256: {}}}]\n{}",
        dir.join("signing.key").display(),
        key_sha256(people::PROXY_KEY),
        people::approvers_yaml()
    );
    let app = warden_approval_service::startup::open(parse(&yaml).unwrap().compile().unwrap()).await.unwrap();
    let bob = people::person("bob", &["dba"]);
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let digest = format!("sha256:{:064x}", i as u128 + 1);
        let started = Instant::now();
        let created = call(
            &app,
            "POST",
            "/v1/approvals",
            people::PROXY_KEY,
            json!({
                "digest": digest,
                "requester": {"subject": "alice", "issuer": people::ISSUER, "kind": "human"},
                "action": {"method": "DELETE", "authority": "api", "path": format!("/customers/{i}")},
                "requirement": {"groups": ["dba"], "pending_ttl_secs": 600, "use_by_secs": 300}
            }),
        )
        .await;
        let id = created["id"].as_str().unwrap().to_string();
        call(&app, "POST", &format!("/v1/approvals/{id}/approve"), &bob, json!({})).await;
        let used = call(
            &app,
            "POST",
            &format!("/v1/approvals/{id}/consume"),
            people::PROXY_KEY,
            json!({"digest": digest, "subject": "alice", "issuer": people::ISSUER}),
        )
        .await;
        assert_eq!(used["approval"]["status"], "consumed");
        times.push(started.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "approval round trip (create, approve, consume) on {label}: {rounds} rounds, p50 {:.2} ms, p99 {:.2} ms",
        ms(at(0.50)),
        ms(at(0.99))
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(300);
    let dir = std::env::temp_dir().join(format!("warden-approvals-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    run("SQLite", format!("sqlite://{}", dir.join("bench.db").display()), &dir, rounds).await;
    let admin =
        std::env::var("WARDEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    use sqlx::Connection;
    match sqlx::PgConnection::connect(&admin).await {
        Ok(mut conn) => {
            let name = format!("warden_bench_{}", std::process::id());
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
            let (main, query) = admin.split_once('?').map_or((admin.as_str(), None), |(m, q)| (m, Some(q)));
            let base = main.rsplit_once('/').map(|(b, _)| b).unwrap();
            let url = match query {
                Some(q) => format!("{base}/{name}?{q}"),
                None => format!("{base}/{name}"),
            };
            run("PostgreSQL", url, &dir, rounds).await;
            let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut conn).await;
        }
        Err(e) => println!("approval round trip on PostgreSQL: skipped ({admin} does not answer: {e})"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
