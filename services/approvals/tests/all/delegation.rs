//! The delegated-token corpus (`filters/identity/tests/data/delegation-claims.json`) against
//! the approval service's API, on SQLite and PostgreSQL: a token whose delegation claim names
//! no actor (or any claim of a shape the service cannot read) is refused (401); a delegated
//! token never decides (403 `not_eligible`), by vote or by break-glass; only a person acting
//! alone decides. Nothing a refused token sent is recorded as a vote.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::api::call;
use crate::common::people::{token, ISSUER};
use crate::common::tempdir::Dir;
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use warden_approval_service::config::parse;
use warden_approval_service::http::App;

fn cases() -> Vec<Value> {
    let corpus: Value =
        serde_json::from_str(include_str!("../../../../filters/identity/tests/data/delegation-claims.json")).unwrap();
    corpus["cases"].as_array().unwrap().clone()
}

async fn create(app: &Arc<App>, index: usize) -> String {
    let body = json!({
        "digest": format!("sha256:{index:064x}"),
        "requester": {"subject": "alice", "issuer": ISSUER, "kind": "human",
                      "actors": [{"subject": "agent:assistant", "kind": "agent"}]},
        "action": {"method": "POST", "authority": "db.internal", "path": "/query", "rules": ["destructive-sql"]},
        "requirement": {"groups": ["dba"], "pending_ttl_secs": 600, "use_by_secs": 300}
    });
    crate::common::api::create(app, &body).await
}

async fn every_shape_is_refused_or_not_eligible_unless_acting_alone(database: String, dir: Dir) {
    let app = crate::common::api::service(&dir, &database).await;
    for (index, case) in cases().into_iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let id = create(&app, index).await;
        // bob is a DBA and in the break-glass group: only the token's shape can stop him.
        let bob = token("bob", &["dba", "breakglass"], case["add"].clone());
        let (vote, vote_body) = call(&app, "POST", &format!("/v1/approvals/{id}/approve"), &bob, &json!({})).await;
        let force = json!({"decision": "approve", "reason": "INC-7"});
        let (forced, forced_body) = call(&app, "POST", &format!("/v1/approvals/{id}/force"), &bob, &force).await;
        let code = |body: &Value| body["error"]["code"].as_str().unwrap_or("").to_string();
        match case["expect"].as_str().unwrap() {
            "refused" => {
                assert_eq!((vote, code(&vote_body).as_str()), (StatusCode::UNAUTHORIZED, "unauthenticated"), "{name}");
                assert!(vote_body.to_string().contains("malformed claim"), "{name}: {vote_body}");
                assert_eq!(forced, StatusCode::UNAUTHORIZED, "{name}: break-glass");
            }
            "delegated" => {
                assert_eq!((vote, code(&vote_body).as_str()), (StatusCode::FORBIDDEN, "not_eligible"), "{name}");
                assert_eq!((forced, code(&forced_body).as_str()), (StatusCode::FORBIDDEN, "not_eligible"), "{name}");
            }
            "alone" => {
                // Acting alone: only the rule's own bars apply (a case that drops bob's
                // groups leaves him unnamed by the rule, not refused as delegated).
                let expected = if case["add"].get("groups").is_some() { StatusCode::FORBIDDEN } else { StatusCode::OK };
                assert_eq!(vote, expected, "{name}: {vote_body}");
                assert!(!vote_body.to_string().contains("delegated"), "{name}: {vote_body}");
                continue;
            }
            other => panic!("{name}: unknown expectation {other}"),
        }
        let approval = app.store.get(&id).await.unwrap().unwrap();
        assert!(approval.votes.is_empty() && !approval.forced, "{name}: nothing decided");
    }
}

#[tokio::test]
async fn delegated_and_malformed_tokens_never_decide_on_sqlite() {
    let dir = Dir::new();
    let database = format!("sqlite://{}", dir.path.join("a.db").display());
    every_shape_is_refused_or_not_eligible_unless_acting_alone(database, dir).await;
}

#[tokio::test]
async fn delegated_and_malformed_tokens_never_decide_on_postgres() {
    if warden_testdb::postgres_absent() {
        return;
    }
    let database = crate::common::postgres_url().await;
    every_shape_is_refused_or_not_eligible_unless_acting_alone(database, Dir::new()).await;
}

#[test]
fn an_approvers_provider_must_say_how_agents_are_told_from_people() {
    let dir = Dir::new();
    let yaml = format!(
        "database: sqlite://{}\nsigning_key_file: {}\napprovers:\n  providers:\n    - {{name: idp, issuer: https://idp.example, algorithms: [HS256], jwks: {{keys: [{{kty: oct, kid: k, alg: HS256, k: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY}}]}}}}\n",
        dir.path.join("a.db").display(),
        dir.path.join("signing.key").display()
    );
    let Err(error) = parse(&yaml).unwrap().compile() else { panic!("accepted without kind_rules") };
    assert_eq!(error.field, "approvers.providers[0].kind_rules");
    let explicit = yaml.replace("jwks:", "default_kind: human, jwks:");
    assert!(parse(&explicit).unwrap().compile().is_ok(), "default_kind: human is an explicit choice");
}
