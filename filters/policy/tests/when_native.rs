//! The native evaluation of `when` conditions never disagrees with the `cel` interpreter:
//! random conditions over random requests, compared outcome by outcome (true, false, error).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;
use warden_policy::when::{NotEvaluated, Variables, When};

/// The interpreter's answer, as `When::evaluate` reports it.
fn interpreted(env: &Arc<cel::Env>, when: &When, variables: &Variables) -> Result<bool, NotEvaluated> {
    let mut context = cel::Context::with_env(env.clone());
    for (name, value) in variables.named() {
        context.add_variable(name, value).expect("variable");
    }
    match when.program().execute(&context) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        _ => Err(NotEvaluated),
    }
}

/// Values by type, so comparisons mostly meet operands of one type (as policies write them);
/// each list also holds a few of another type, a float and a uint, which the native evaluator
/// must leave to the interpreter or get right.
const INTEGERS: &[&str] = &[
    "now.hour",
    "now.minute",
    "body.amount",
    "identity.claims.level",
    "size(identity.groups)",
    "3",
    "9",
    "17",
    "-1",
    "0",
    "7u",
    "2.5",
];
const STRINGS: &[&str] = &[
    "request.method",
    "request.path",
    "request.query.limit",
    "identity.subject",
    "identity.kind",
    "now.weekday",
    "request.headers.x_team",
    "request.headers['x-tenant']",
    "mcp.tool",
    "body.name",
    "identity.groups[0]",
    "body",
    "source",
    "'GET'",
    "'/api/'",
    "'admins'",
    "'agent'",
    "'3'",
    "''",
    "null",
];
const LISTS: &[&str] = &[
    "identity.groups",
    "['admins', 'ops']",
    "sql.tables",
    "body.items",
    "identity.claims.tags",
    "[3, 'x']",
    "{'a': 1}",
    "identity.actors",
];
const BOOLEANS: &[&str] =
    &["true", "false", "sql.destructive", "mcp.arguments.force", "request.missing", "body.items[1]"];
const FIELDS: &[&str] = &[
    "request.headers.x_team",
    "request.missing",
    "identity.subject",
    "identity.claims.level",
    "body.amount",
    "body.name",
    "mcp.tool",
    "mcp.arguments.force",
    "sql.destructive",
    "now.hour",
];

fn one_of(values: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(values).prop_map(String::from).boxed()
}

fn value() -> BoxedStrategy<String> {
    prop_oneof![one_of(INTEGERS), one_of(STRINGS), one_of(LISTS), one_of(BOOLEANS)].boxed()
}

/// Two operands, of one type four times out of five.
fn operands() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        4 => prop_oneof![(one_of(INTEGERS), one_of(INTEGERS)), (one_of(STRINGS), one_of(STRINGS)), (one_of(BOOLEANS), one_of(BOOLEANS))],
        1 => (value(), value()),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    let ops = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    let tests = prop::sample::select(vec!["startsWith", "endsWith", "contains"]);
    let leaf = prop_oneof![
        3 => (operands(), ops.clone()).prop_map(|((a, b), op)| format!("{a} {op} {b}")),
        1 => (prop_oneof![one_of(STRINGS), one_of(INTEGERS)], one_of(LISTS)).prop_map(|(a, b)| format!("{a} in {b}")),
        1 => (one_of(STRINGS), tests, one_of(STRINGS)).prop_map(|(a, t, b)| format!("{a}.{t}({b})")),
        1 => one_of(STRINGS).prop_map(|a| format!("{a}.matches('^/api/[0-9]+|admin')")),
        1 => (prop_oneof![one_of(STRINGS), one_of(LISTS)], ops, one_of(INTEGERS)).prop_map(|(a, op, b)| format!("size({a}) {op} {b}")),
        1 => one_of(FIELDS).prop_map(|f| format!("has({f})")),
        1 => one_of(BOOLEANS),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| format!("!({a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) && ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || ({b})")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!("({a}) ? ({b}) : ({c})")),
        ]
    })
}

fn variables() -> impl Strategy<Value = Variables> {
    let request = (prop::sample::select(vec!["GET", "POST"]), prop::sample::select(vec!["/api/42/items", "/admin", ""]), any::<bool>())
        .prop_map(|(method, path, team)| {
            let mut headers = json!({"x-tenant": "acme"});
            if team {
                headers["x_team"] = json!("ops");
            }
            json!({"method": method, "host": "api.example.com", "path": path, "query": {"limit": "10"}, "headers": headers})
        });
    let level =
        prop::sample::select(vec![json!(3), json!(9), json!("3"), json!(2.5), json!(-1), json!(u64::MAX), Value::Null]);
    let identity = prop_oneof![
        Just(Value::Null),
        (prop::sample::select(vec!["human", "agent"]), any::<bool>(), level).prop_map(|(kind, admin, level)| {
            let groups = if admin { json!(["admins", "ops"]) } else { json!([]) };
            json!({"v": 1, "subject": "alice", "issuer": "https://idp", "kind": kind, "actors": [], "groups": groups,
                   "scopes": ["read"], "method": "jwt", "expires_at": null, "claims": {"level": level, "tags": ["a", 3]}})
        }),
    ];
    let now = (prop::sample::select(vec![3u64, 9, 17]), prop::sample::select(vec!["mon", "sat"]))
        .prop_map(|(hour, day)| json!({"unix": 1_700_000_000u64, "weekday": day, "hour": hour, "minute": 5}));
    let source = prop_oneof![Just(Value::Null), Just(json!("10.0.0.1"))];
    let body = prop_oneof![
        Just(Value::Null),
        Just(json!("DROP TABLE users")),
        prop::sample::select(vec![json!(5), json!(-3), json!(1.5), json!("7")])
            .prop_map(|amount| json!({"amount": amount, "name": "x", "items": [1, "a"]})),
    ];
    let mcp = prop_oneof![
        Just(Value::Null),
        prop::sample::select(vec![json!(true), json!("true")]).prop_map(
            |force| json!({"method": "tools/call", "tool": "delete_x", "arguments": {"force": force}, "batch": false})
        ),
    ];
    let sql =
        prop_oneof![Just(Value::Null), any::<bool>().prop_map(|d| json!({"destructive": d, "tables": ["users"]}))];
    (request, identity, source, now, body, mcp, sql)
        .prop_map(|(r, i, s, n, b, m, q)| Variables::new([r, i, s, n, b, m, q]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn native_evaluation_agrees_with_the_interpreter(source in condition(), variables in variables()) {
        let env = Arc::new(cel::Env::stdlib());
        let Ok(when) = When::compile(&env, &source) else { return Ok(()) };
        if let Some(native) = when.evaluate_natively(&variables) {
            prop_assert_eq!(native, interpreted(&env, &when, &variables), "condition {}", source);
        }
    }
}

#[test]
fn the_shapes_policies_use_run_natively() {
    let env = cel::Env::stdlib();
    for source in [
        "request.method == 'GET' && has(request.headers.x_tenant_1) == false && request.path.startsWith('/api/1/')",
        "'admins' in identity.groups || identity.kind != 'agent'",
        "now.hour >= 9 && now.hour < 18 && !(now.weekday in ['sat', 'sun'])",
        "size(body.items) > 100 || body.amount >= 10000",
        "request.headers['x-tenant'].matches('^acme-[a-z]+$') ? sql.destructive : false",
        "mcp.tool.endsWith('_all') && mcp.arguments.force == true",
    ] {
        assert!(When::compile(&env, source).expect("compiles").is_native(), "{source}");
    }
    // Outside the subset: comprehension macros and arithmetic go to the interpreter.
    for source in ["identity.groups.exists(g, g.startsWith('admin'))", "body.amount * 2 > 10"] {
        assert!(!When::compile(&env, source).expect("compiles").is_native(), "{source}");
    }
}

/// The comparison above only means something if the native evaluator answers often.
#[test]
fn most_generated_conditions_are_answered_natively() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let env = Arc::new(cel::Env::stdlib());
    let (mut lowered, mut answered) = (0, 0);
    for _ in 0..1000 {
        let source = condition().new_tree(&mut runner).expect("condition").current();
        let variables = variables().new_tree(&mut runner).expect("variables").current();
        let when = When::compile(&env, &source).expect("generated conditions parse");
        lowered += usize::from(when.is_native());
        answered += usize::from(when.evaluate_natively(&variables).is_some());
    }
    assert!(lowered > 700, "{lowered} of 1000 lowered");
    assert!(answered > 250, "{answered} of 1000 answered natively");
}
