#!/usr/bin/env python3
"""An independent verifier of Warden evidence bundles, sharing no code with the Rust one:
RFC 6962 hashing written from the RFC, C2SP signed notes and cosignature/v1 parsed from the
specs, Ed25519 from the `cryptography` package.

Checks the last checkpoint's log signature (and witness cosignatures, when keys are given),
recomputes the tree root from the entries of a whole-log bundle (`from` 0), and verifies every
`c2sp.org/tlog-proof@v1` inclusion proof. Exit 0 only if everything holds.

usage: verify_bundle.py BUNDLE --log-key VKEY [--witness-key VKEY ...]
"""
import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EM_DASH = "\u2014"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    """RFC 6962 section 2.1: the Merkle Tree Hash of a list of leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def parse_vkey(vkey, alg):
    name, key_id, key = vkey.strip().split("+", 2)
    raw = base64.b64decode(key)
    if raw[0] != alg or len(raw) != 33:
        raise ValueError(f"{name}: not an algorithm {alg:#x} Ed25519 key")
    expected = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if expected.hex() != key_id:
        raise ValueError(f"{name}: key id mismatch")
    return name, expected, Ed25519PublicKey.from_public_bytes(raw[1:])


def parse_note(note: str):
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    signatures = []
    for line in sigs.splitlines():
        if not line.startswith(EM_DASH + " "):
            raise ValueError("malformed signature line")
        name, b64 = line[2:].rsplit(" ", 1)
        raw = base64.b64decode(b64)
        signatures.append((name, raw[:4], raw[4:]))
    return text, signatures


def check_note(note, log, witnesses):
    text, signatures = parse_note(note)
    name, key_id, key = log
    good = False
    for sig_name, sig_id, sig in signatures:
        if sig_name == name and sig_id == key_id:
            key.verify(sig, text.encode())  # raises InvalidSignature
            good = True
    if not good:
        raise ValueError("no signature by the log's key")
    cosigned = []
    for w_name, w_id, w_key in witnesses:
        for sig_name, sig_id, sig in signatures:
            if sig_name == w_name and sig_id == w_id:
                timestamp = int.from_bytes(sig[:8], "big")
                message = f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()
                w_key.verify(sig[8:], message)
                cosigned.append(w_name)
    lines = text.split("\n")
    if lines[0] != name:
        raise ValueError(f"checkpoint origin {lines[0]!r} is not {name!r}")
    return int(lines[1]), base64.b64decode(lines[2]), cosigned


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle")
    parser.add_argument("--log-key", required=True)
    parser.add_argument("--witness-key", action="append", default=[])
    args = parser.parse_args()
    with open(args.bundle, encoding="utf-8") as f:
        bundle = json.load(f)
    log = parse_vkey(args.log_key, 0x01)
    witnesses = [parse_vkey(k, 0x04) for k in args.witness_key]
    try:
        size, root, cosigned = check_note(bundle["last"]["note"], log, witnesses)
        if size != bundle["last"]["size"]:
            raise ValueError("checkpoint size differs from the bundle's")
        if len(cosigned) < len(witnesses):
            raise ValueError(f"cosigned by {cosigned}, not by every given witness")
        if bundle["from"] == 0:
            entries = [e.encode("utf-8") for e in bundle["entries"]]
            if len(entries) != size or mth([leaf_hash(e) for e in entries]) != root:
                raise ValueError("the entries do not give the signed root")
        proofs = 0
        for index, text in bundle.get("proofs", {}).items():
            head, _, note = text.partition("\n\n")
            lines = head.split("\n")
            if lines[0] != "c2sp.org/tlog-proof@v1" or lines[1] != f"index {index}":
                raise ValueError(f"proof {index}: not a tlog-proof for it")
            p_size, p_root, _ = check_note(note, log, witnesses)
            hashes = [base64.b64decode(h) for h in lines[2:]]
            entry = bundle["entries"][int(index) - bundle["from"]].encode("utf-8")
            if not verify_inclusion(int(index), p_size, leaf_hash(entry), hashes, p_root):
                raise ValueError(f"proof {index}: does not verify")
            proofs += 1
    except (ValueError, InvalidSignature, KeyError, IndexError) as err:
        print(f"independent verifier: NOT verified: {err or type(err).__name__}")
        return 1
    print(f"independent verifier: verified {size} entries, {proofs} inclusion proofs, cosigned by {cosigned}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
