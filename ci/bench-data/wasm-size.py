#!/usr/bin/env python3
"""Where the bytes of a wasm module go: section sizes, and code size per crate (from the
function names in the `name` section, so build it unstripped:
`CARGO_PROFILE_WASM_STRIP=false cargo build --profile wasm ...`).

    wasm-size.py MODULE.wasm [TOP]

Prints sections, then crates by code bytes, then the TOP largest functions."""
import collections
import re
import sys

SECTIONS = {0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
            7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount"}


def leb(data, i):
    result = shift = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def sections(data):
    i = 8
    while i < len(data):
        sid = data[i]
        size, j = leb(data, i + 1)
        name = SECTIONS.get(sid, str(sid))
        if sid == 0:
            n, k = leb(data, j)
            name = "custom:" + data[k:k + n].decode(errors="replace")
        yield sid, name, data[j:j + size], j + size - i
        i = j + size


def function_names(payload):
    names = {}
    i = 0
    n, i = leb(payload, i)
    i += n  # "name"
    while i < len(payload):
        kind = payload[i]
        size, i = leb(payload, i + 1)
        end = i + size
        if kind == 1:
            count, i = leb(payload, i)
            for _ in range(count):
                index, i = leb(payload, i)
                length, i = leb(payload, i)
                names[index] = payload[i:i + length].decode(errors="replace")
                i += length
        i = end
    return names


def crate_of(name):
    """The crate a (legacy-mangled or demangled) Rust symbol belongs to."""
    m = re.match(r"_ZN(\d+)", name)
    if m:
        n = int(m.group(1))
        start = m.end()
        crate = name[start:start + n]
        # `<T as Trait>` impls mangle as `_ZN..._$LT$...`: take the implementing type's crate.
        inner = re.match(r"_\$LT\$(\w+?)\.\.", crate)
        return inner.group(1) if inner else crate
    m = re.match(r"<?(\w+)::", name)
    return m.group(1) if m else "(other)"


def main():
    data = open(sys.argv[1], "rb").read()
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    imports = 0
    bodies = []
    names = {}
    print("%-32s %10s" % ("section", "bytes"))
    for sid, name, payload, total in sections(data):
        print("%-32s %10d" % (name, total))
        if sid == 2:
            count, i = leb(payload, 0)
            for _ in range(count):
                for _ in range(2):
                    n, i = leb(payload, i)
                    i += n
                kind = payload[i]
                i += 1
                if kind == 0:
                    _, i = leb(payload, i)
                    imports += 1
                elif kind == 1:
                    i += 1
                    flags, i = leb(payload, i)
                    _, i = leb(payload, i)
                    if flags & 1:
                        _, i = leb(payload, i)
                elif kind == 2:
                    flags, i = leb(payload, i)
                    _, i = leb(payload, i)
                    if flags & 1:
                        _, i = leb(payload, i)
                elif kind == 3:
                    i += 2
        elif sid == 10:
            count, i = leb(payload, 0)
            for _ in range(count):
                size, i = leb(payload, i)
                bodies.append(size)
                i += size
        elif name == "custom:name":
            names = function_names(payload)
    if not names:
        print("\n(no name section: build unstripped for the per-crate table)")
        return
    by_crate = collections.Counter()
    functions = []
    for index, size in enumerate(bodies):
        name = names.get(index + imports, "?")
        by_crate[crate_of(name)] += size
        functions.append((size, name))
    total = sum(bodies)
    print("\n%-32s %10s %7s" % ("crate (code)", "bytes", "share"))
    for crate, size in by_crate.most_common(30):
        print("%-32s %10d %6.1f%%" % (crate, size, 100.0 * size / total))
    print("\n%-10s %s" % ("bytes", "largest functions"))
    for size, name in sorted(functions, reverse=True)[:top]:
        print("%-10d %s" % (size, name[:150]))


if __name__ == "__main__":
    main()
