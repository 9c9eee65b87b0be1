#!/usr/bin/env python3
"""Writes the masking benchmark scenarios into the directory given: a 256 KiB text response,
a 256 KiB JSON response and a 256 KiB event stream (LLM-style `data:` deltas, delivered in
16 KiB chunks and masked as they stream), each with a sensitive value every ~2 KiB, masked by
warden_mask.wasm with every built-in detector (the default profile)."""
import json
import os
import random
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
random.seed(7)
SIZE = 256 * 1024
WORDS = "the quick brown fox jumps over a lazy dog while agents call tools and read records".split()
SECRETS = ["ada@example.com", "4111 1111 1111 1111", "+44 20 7946 0958", "123-45-6789", "203.0.113.7",
           "AKIAIOSFODNN7EXAMPLE", "DE89 3704 0044 0532 0130 00"]


def sentence():
    return " ".join(random.choice(WORDS) for _ in range(12))


def text():
    parts, size = [], 0
    while size < SIZE:
        part = " ".join(sentence() for _ in range(16)) + " " + random.choice(SECRETS) + ". "
        parts.append(part)
        size += len(part)
    return "".join(parts)[:SIZE]


def document():
    records, size = [], 0
    while size < SIZE:
        record = {"id": len(records), "name": sentence()[:20], "note": " ".join(sentence() for _ in range(14)),
                  "contact": random.choice(SECRETS), "score": random.random(), "tags": ["a", "b"]}
        records.append(record)
        size += len(json.dumps(record))
    return json.dumps({"records": records})


def event_stream():
    events, size = [], 0
    while size < SIZE:
        delta = " ".join(sentence() for _ in range(2))
        if len(events) % 8 == 0:
            delta += " " + random.choice(SECRETS)
        event = "event: delta\ndata: %s\n\n" % json.dumps({"choices": [{"delta": {"content": delta}}]})
        events.append(event)
        size += len(event)
    return "".join(events)


def chunks(body, size=16 * 1024):
    return [body[i:i + size] for i in range(0, len(body), size)]


for name, content_type, body in [("text", "text/plain", text()), ("json", "application/json", document()),
                                  ("event-stream", "text/event-stream", event_stream())]:
    upstream = {"headers": {"content-type": content_type}}
    if content_type == "text/event-stream":
        upstream["chunks"] = chunks(body)
    else:
        upstream["body"] = body
    doc = {"description": "masking a %d KiB %s response with every built-in detector" % (len(body) // 1024, name),
           "filters": [{"wasm": "warden_mask.wasm", "config": {"obligations": False, "response": "all",
                                                             "profiles": {"all": {}}}}],
           "upstream": upstream,
           "requests": [{"path": "/", "expect": {"status": 200}}]}
    with open(os.path.join(out, "mask-%s-256k.scenario.yaml" % name), "w") as f:
        json.dump(doc, f)
