#!/usr/bin/env python3
"""Writes the policy benchmark scenarios into the directory given (ci/bench runs them):
1,000 path/header rules; 100 rules with CEL conditions; an MCP tools/call of 2 KiB; a SQL read.
Each request matches exactly one rule, so the rows show decision cost, not refusals."""
import json
import os
import sys

from path_rules import thousand_rules

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def scenario(name, description, config, request):
    doc = {"description": description,
           "filters": [{"wasm": "warden_policy.wasm", "config": config}],
           "requests": [dict(request, expect={"status": 200})]}
    with open(os.path.join(out, name + ".scenario.yaml"), "w") as f:
        json.dump(doc, f)


scenario("policy-1000-path-rules", "1,000 rules on method, path prefix, exact path and a header.",
         {"policies": [{"name": "bench", "rules": thousand_rules()}]},
         {"path": "/svc501/items", "headers": [["x-tenant", "t1"]]})

rules = [{"id": "cel%d" % i, "when": "request.method == 'GET' && has(request.headers.x_tenant_%d) == false && "
                                      "request.path.startsWith('/api/%d/')" % (i, i), "effect": "allow"}
         for i in range(100)]
scenario("policy-100-cel-rules", "100 rules, each with a CEL condition, all evaluated for every request.",
         {"policies": [{"name": "bench", "rules": rules}]},
         {"path": "/api/42/items"})

mcp_rules = [
    {"id": "housekeeping", "match": {"paths": [{"exact": "/mcp"}], "mcp": {"methods": ["initialize", "tools/list"]}}, "effect": "allow"},
    {"id": "destructive", "match": {"paths": [{"exact": "/mcp"}], "mcp": {"tools": ["delete_*", "drop_*"]}}, "effect": "deny"},
    {"id": "forced", "match": {"paths": [{"exact": "/mcp"}], "mcp": {"tools": ["*"], "arguments": [{"pointer": "/force", "equals": "true"}]}}, "effect": "deny"},
    {"id": "read-tools", "match": {"methods": ["POST"], "paths": [{"exact": "/mcp"}], "mcp": {"tools": ["read_*", "search*"]}}, "effect": "allow"},
]
call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "search_code", "arguments": {"query": "x" * 1900, "limit": 20}}}
body = json.dumps(call)
assert 2000 <= len(body) <= 2200, len(body)
scenario("policy-mcp-call-2k", "An MCP tools/call of about 2 KiB decided by four MCP rules (body parsed).",
         {"policies": [{"name": "bench", "rules": mcp_rules}]},
         {"method": "POST", "path": "/mcp", "headers": [["content-type", "application/json"]], "body": body})

sql_rules = [
    {"id": "no-destructive", "match": {"paths": [{"exact": "/sql"}], "sql": {"pointer": "/query", "destructive": True}}, "effect": "deny"},
    {"id": "read-only", "match": {"paths": [{"exact": "/sql"}], "sql": {"pointer": "/query", "classes": ["write", "ddl", "dcl"]}}, "effect": "deny"},
    {"id": "sql", "match": {"methods": ["POST"], "paths": [{"exact": "/sql"}]}, "effect": "allow"},
]
query = ("SELECT u.name, count(o.id), sum(o.total) FROM users u JOIN orders o ON o.user_id = u.id "
         "WHERE o.created_at > now() - interval '7 days' AND u.status = 'active' GROUP BY u.name "
         "ORDER BY 3 DESC LIMIT 20")
scenario("policy-sql-read", "A 200-byte SQL read (join, aggregate, functions) classified as every dialect reads it, "
         "against a read-only SQL policy.",
         {"policies": [{"name": "bench", "rules": sql_rules}]},
         {"method": "POST", "path": "/sql", "headers": [["content-type", "application/json"]],
          "body": json.dumps({"query": query})})
