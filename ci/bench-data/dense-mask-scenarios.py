#!/usr/bin/env python3
"""Writes dense, varied masking benchmark scenarios into the directory given: support tickets,
log lines and customer records made with Faker in en_US, en_GB and de_DE (names, addresses,
companies, free text), with a sensitive value or a near miss (a card failing Luhn, a mistyped
IBAN, a number shaped like an SSN with area 000, an address without a TLD) every ~300 bytes;
as text, JSON and an event stream, at 64 KiB, 256 KiB and 1 MiB. Seeded: the same files every
run. Needs Faker (ci/bench installs it into .venv)."""
import json
import os
import random
import sys

from faker import Faker

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
random.seed(11)
fakers = [Faker(locale) for locale in ("en_US", "en_GB", "de_DE")]
for n, f in enumerate(fakers):
    f.seed_instance(100 + n)
SIZES = {"64k": 64 * 1024, "256k": 256 * 1024, "1m": 1024 * 1024}


def luhn_ok(digits):
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = int(d)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card(valid):
    while True:
        digits = "4" + "".join(random.choice("0123456789") for _ in range(15))
        if luhn_ok(digits) == valid:
            return " ".join(digits[i:i + 4] for i in range(0, 16, 4))


def value(f):
    """A sensitive value, or a near miss, about half and half."""
    kind = random.randrange(10)
    if kind == 0:
        return f.email()
    if kind == 1:
        return f.phone_number()
    if kind == 2:
        return card(True)
    if kind == 3:
        return card(False)  # near miss: fails Luhn
    if kind == 4:
        return f.iban()
    if kind == 5:
        iban = f.iban()
        return iban[:-1] + ("0" if iban[-1] != "0" else "1")  # near miss: checksum
    if kind == 6:
        return f.ssn() if f is fakers[0] else "000-%02d-%04d" % (random.randrange(100), random.randrange(10000))
    if kind == 7:
        return f.ipv4()
    if kind == 8:
        return "%s@%s" % (f.user_name(), f.word())  # near miss: no TLD
    return "password=%s" % f.password(length=12)


def fragment(f):
    """~300 bytes of varied prose, a log line or a record line, with one value in it."""
    style = random.randrange(3)
    if style == 0:
        text = "Ticket %d from %s (%s): %s Reach me at %s. %s" % (
            random.randrange(100000), f.name(), f.company(), f.paragraph(nb_sentences=2), value(f),
            f.sentence(nb_words=10))
    elif style == 1:
        text = "%s INFO %s user=%s ip=%s msg=\"%s\" ref=%s" % (
            f.iso8601(), f.uri_path(), f.user_name(), f.ipv4(), f.sentence(nb_words=14), value(f))
    else:
        text = "%s, %s, %s; contact %s; note: %s" % (
            f.name(), f.street_address(), f.city(), value(f), f.sentence(nb_words=16))
    return text.replace("\n", " ")


def text(size):
    parts, total = [], 0
    while total < size:
        part = fragment(random.choice(fakers)) + "\n"
        parts.append(part)
        total += len(part.encode())
    return "".join(parts).encode()[:size].decode("utf-8", "ignore")


def document(size):
    records, total = [], 16
    while True:
        f = random.choice(fakers)
        record = {"id": len(records), "name": f.name(), "address": f.address().replace("\n", ", "),
                  "contact": value(f), "note": fragment(f)[:200], "score": round(random.random(), 3)}
        length = len(json.dumps(record, ensure_ascii=False).encode()) + 2
        if total + length > size:
            return json.dumps({"records": records}, ensure_ascii=False)
        records.append(record)
        total += length


def event_stream(size):
    events, total = [], 0
    while True:
        delta = fragment(random.choice(fakers))[:160]
        event = "event: delta\ndata: %s\n\n" % json.dumps({"choices": [{"delta": {"content": delta}}]},
                                                          ensure_ascii=False)
        if total + len(event.encode()) > size:
            return "".join(events)
        events.append(event)
        total += len(event.encode())


def chunks(body, size=16 * 1024):
    return [body[i:i + size] for i in range(0, len(body), size)]


for label, size in SIZES.items():
    for name, content_type, body in [("text", "text/plain; charset=utf-8", text(size)),
                                      ("json", "application/json", document(size)),
                                      ("event-stream", "text/event-stream", event_stream(size))]:
        upstream = {"headers": {"content-type": content_type}}
        if content_type == "text/event-stream":
            upstream["chunks"] = chunks(body)
        else:
            upstream["body"] = body
        doc = {"description": "masking a dense, varied %s %s response (Faker: en_US, en_GB, de_DE; a value or "
                              "a near miss every ~300 bytes) with every built-in detector" % (label, name),
               "filters": [{"wasm": "warden_mask.wasm", "config": {"obligations": False, "response": "all",
                                                                 "profiles": {"all": {}},
                                                                 "max_body_bytes": 1024 * 1024}}],
               "upstream": upstream,
               "requests": [{"path": "/", "expect": {"status": 200}}]}
        with open(os.path.join(out, "mask-dense-%s-%s.scenario.yaml" % (name, label)), "w") as f:
            json.dump(doc, f, ensure_ascii=False)
