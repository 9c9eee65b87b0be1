#!/usr/bin/env python3
"""Generates the labelled evaluation corpus of the masking detectors (corpus.jsonl).

Each line: {"format": "text"|"json", "body": ..., "labels": [[type, value], ...],
"near_misses": [[type, value], ...]}. Labels are the sensitive values placed in the body;
near misses look like one (16 digits failing Luhn, an IBAN with a bad checksum, an SSN in a
never-issued range, ...) and must not be detected. Values come from Faker (PyPI) with a fixed
seed, so the file is reproducible: `.venv/bin/pip install faker && python3 generate.py`.

Scope of the phone numbers: Faker's en_US and en_GB formats and E.164; numbers written as one
bare run of digits (`6114980364`) are left out: the detector does not claim them, because order
numbers and timestamps look the same.
"""
import base64
import json
import os
import random
import string

from faker import Faker

SEED = 20261122
PER_TYPE = 60
random.seed(SEED)
Faker.seed(SEED)
us, gb = Faker("en_US"), Faker("en_GB")
words = Faker("en_US")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def rand(alphabet: str, n: int) -> str:
    return "".join(random.choice(alphabet) for _ in range(n))


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = int(d)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def phone() -> str:
    while True:
        number = random.choice([us, gb]).phone_number() if random.random() < 0.8 else "+%d%s" % (
            random.choice([49, 33, 44, 34, 39, 31]), rand(string.digits, random.choice([9, 10, 11])))
        if not number.isdigit():
            return number


def card() -> str:
    kind = random.choice(["visa16", "mastercard", "amex", "discover", "jcb16", "diners", "visa13"])
    number = us.credit_card_number(card_type=kind)
    style = random.random()
    if style < 0.3 and len(number) == 16:
        return " ".join(number[i:i + 4] for i in range(0, 16, 4))
    if style < 0.45 and len(number) == 16:
        return "-".join(number[i:i + 4] for i in range(0, 16, 4))
    return number


def iban() -> str:
    value = random.choice([us, gb, Faker("de_DE"), Faker("fr_FR"), Faker("nl_NL")]).iban()
    if random.random() < 0.4:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn() -> str:
    return us.ssn()


def jwt() -> str:
    header = b64url(json.dumps({"alg": random.choice(["RS256", "ES256", "HS256"]), "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": us.user_name(), "iat": random.randint(1_600_000_000, 1_800_000_000)}).encode())
    return "%s.%s.%s" % (header, payload, b64url(random.randbytes(32)))


def private_key() -> str:
    body = "\n".join(base64.b64encode(random.randbytes(48)).decode() for _ in range(4))
    kind = random.choice(["RSA ", "EC ", "", "OPENSSH "])
    return "-----BEGIN %sPRIVATE KEY-----\n%s\n-----END %sPRIVATE KEY-----" % (kind, body, kind)


GENERATORS = {
    "email": lambda: random.choice([us, gb]).email(),
    "phone": phone,
    "payment_card": card,
    "iban": iban,
    "us_ssn": ssn,
    "ipv4": lambda: us.ipv4(),
    "ipv6": lambda: us.ipv6(),
    "jwt": jwt,
    "private_key": private_key,
    "aws_access_key_id": lambda: random.choice(["AKIA", "ASIA"]) + rand(string.ascii_uppercase + string.digits, 16),
    "github_token": lambda: "ghp_" + rand(string.ascii_letters + string.digits, 36),
    "gitlab_token": lambda: "glpat-" + rand(string.ascii_letters + string.digits + "_-", 20),
    "slack_token": lambda: "xoxb-%s-%s" % (rand(string.digits, 12), rand(string.ascii_letters + string.digits, 24)),
    "stripe_key": lambda: random.choice(["sk_live_", "sk_test_", "rk_live_"]) + rand(string.ascii_letters + string.digits, 24),
    "openai_key": lambda: "sk-proj-" + rand(string.ascii_letters + string.digits + "_-", 48),
    "anthropic_key": lambda: "sk-ant-api03-" + rand(string.ascii_letters + string.digits + "_-", 40),
    "google_api_key": lambda: "AIza" + rand(string.ascii_letters + string.digits + "_-", 35),
}


def near_miss(kind: str):
    """A value that looks like `kind` but is not one (None: no near miss for this type)."""
    if kind == "payment_card":
        number = us.credit_card_number(card_type="visa16")
        last = str((int(number[-1]) + random.randint(1, 9)) % 10)
        return number[:-1] + last
    if kind == "iban":
        value = gb.iban()
        return value[:-1] + str((int(value[-1]) + 1) % 10)
    if kind == "us_ssn":
        return random.choice(["000", "666", str(random.randint(900, 999))]) + us.ssn()[3:]
    if kind == "ipv4":
        return "%d.%d.%d.%d" % (random.randint(256, 999), random.randint(0, 255), random.randint(0, 255), random.randint(0, 255))
    if kind == "email":
        return us.user_name() + "@" + random.choice(["localhost", "intranet", "host"])
    if kind == "jwt":
        header = b64url(json.dumps({"typ": "JWT"}).encode())
        return "%s.%s.%s" % (header, b64url(b'{"sub":"x"}'), b64url(random.randbytes(16)))
    if kind == "aws_access_key_id":
        return "AKIA" + rand(string.ascii_lowercase, 16)
    if kind == "openai_key":
        return "sk-" + rand(string.ascii_letters, 8)
    if kind == "phone":
        return "v%d.%d.%d" % (random.randint(1, 9), random.randint(0, 20), random.randint(0, 99))
    return None


def sentence_with(value: str) -> str:
    before, after = words.sentence(nb_words=random.randint(3, 9)), words.sentence(nb_words=random.randint(2, 7))
    glue = random.choice([": ", " ", " is ", " (", " -> "])
    close = ")" if glue == " (" else ""
    return before.rstrip(".") + glue + value + close + " " + after


records = []
for kind, make in GENERATORS.items():
    for i in range(PER_TYPE):
        value = make()
        miss = near_miss(kind) if i % 2 == 0 else None
        misses = [[kind, miss]] if miss else []
        if i % 3 == 0:
            doc = {"id": random.randint(1, 10_000), "owner": words.name(), "field": value,
                   "comment": sentence_with(miss) if miss else words.sentence()}
            records.append({"format": "json", "body": json.dumps(doc), "labels": [[kind, value]], "near_misses": misses})
        else:
            text = sentence_with(value) + (" " + sentence_with(miss) if miss else "")
            records.append({"format": "text", "body": text, "labels": [[kind, value]], "near_misses": misses})

# Clean text and JSON with numbers, versions, dates, hashes and ids that must not be detected.
for _ in range(200):
    distractors = [words.date(), "v%d.%d.%d" % (random.randint(0, 9), random.randint(0, 30), random.randint(0, 99)),
                   "order #%d" % random.randint(10_000, 99_999_999), rand("0123456789abcdef", 40),
                   str(random.randint(1_000, 999_999)), words.uuid4(), words.sentence()]
    records.append({"format": "text", "body": " ".join(random.sample(distractors, 4)), "labels": [], "near_misses": []})

random.shuffle(records)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.jsonl")
with open(out, "w") as f:
    for record in records:
        f.write(json.dumps(record, sort_keys=True) + "\n")
print("%d records -> %s" % (len(records), out))
