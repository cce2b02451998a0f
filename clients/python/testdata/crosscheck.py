"""Cross-language checks of one struct value, for clients/test.sh (a test
helper, not part of the seqshm module).

Usage (from the repository root, with $SEQSHM_DIR set):

    crosscheck.py agree SEGMENT go-json=FILE c=FILE [arm64=FILE]
        The Go subscriber's -json output (FILE: its one line), the Python
        reader's read_decoded() dict and each C reader's --fields output
        agree on every field of SEGMENT's value.
    crosscheck.py numpy SEGMENT WANT
        The value read through numpy (np.frombuffer with Segment.dtype())
        has exactly the fields of WANT (the Go writer's path=value lines)
        with the same values, and agrees with read_decoded().

Every source is flattened to path -> value, paths as --fields prints them
(pos.x, vec[1], pts[1].y; a char[N] field is one string). Values are
compared by the schema's type of the field: integers and bools exactly,
char[N] as exact strings, floats numerically as the bits of the field's
type (a float32 field: the text is parsed, then rounded to float32; so Go's
shortest "0.1" equals C's "0.10000000149011612"; -0 differs from 0; NaN
equals NaN). The set of paths must be the schema's, in every source.
Prints "ok N fields" on success; else a table of the fields that differ
(one column per source) on stdout, and exits 1.
"""

import json
import math
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import seqshm  # noqa: E402 - after the path is set

MISSING = "<missing>"


def schema_types(fields, prefix=""):
    """path -> type name ("float32", "char", ...) of every leaf of fields."""
    out = {}
    for f in fields:
        path = prefix + f.name
        paths = [f"{path}[{i}]" for i in range(f.len)] if f.len and f.type != seqshm.T_CHAR else [path]
        for p in paths:
            if f.type == seqshm.T_STRUCT:
                out.update(schema_types(f.fields, p + "."))
            else:
                out[p] = f.type_name
    return out


def flatten(obj):
    """path -> leaf of a decoded struct: dicts, lists and leaves (JSON or read_decoded)."""
    return dict(seqshm._leaves(obj, ""))


def flatten_numpy(a, path=""):
    """path -> leaf of a numpy structured scalar (np.void), as plain Python values."""
    import numpy as np
    out = {}
    if isinstance(a, np.ndarray):  # an array (of numbers, bools or structs)
        for i in range(a.shape[0]):
            out.update(flatten_numpy(a[i], f"{path}[{i}]"))
    elif isinstance(a, bytes):  # char[N] (np.bytes_; numpy drops trailing NULs)
        out[path] = bytes(a).split(b"\0", 1)[0].decode("utf-8", "replace")
    elif a.dtype.names:  # a struct
        for k in a.dtype.names:
            out.update(flatten_numpy(a[k], f"{path}.{k}" if path else k))
    else:
        out[path] = a.item()  # np.float32 -> float (exactly), np.uint64 -> int, np.bool_ -> bool
    return out


def parse_fields(text):
    """path -> value text of path=value lines (seqshm-cat --fields, writer typed)."""
    out = {}
    for line in text.splitlines():
        path, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"not a path=value line: {line!r}")
        out[path] = value
    return out


def norm(typ, v):
    """A comparable form of v, a leaf of type typ from any source; ("bad", v)
    if v cannot be one (e.g. a float where an int belongs)."""
    if v is MISSING:
        return v
    if typ == "bool":
        if isinstance(v, bool):
            return v
        if v in ("true", "false"):
            return v == "true"
    elif typ == "char":
        if isinstance(v, str):
            return v
    elif typ in ("float32", "float64"):
        if isinstance(v, str):
            special = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}
            try:
                v = special[v] if v in special else float(v)
            except ValueError:
                return ("bad", v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if math.isnan(v):
                return "NaN"
            return struct.pack("<f" if typ == "float32" else "<d", float(v)).hex()
    else:  # the integers
        if isinstance(v, str):
            try:
                return int(v, 10)
            except ValueError:
                return ("bad", v)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return ("bad", v)


def compare(types, sources):
    """Diff lines of sources (name -> {path: value}) against each other,
    field by field as types (path -> type) says; [] if they all agree."""
    names = list(sources)
    paths = list(types) + sorted({p for s in sources.values() for p in s} - set(types))
    rows = []
    for p in paths:
        raw = [sources[n].get(p, MISSING) for n in names]
        typ = types.get(p)
        vals = [norm(typ, v) if typ else ("not in the schema", v) for v in raw]
        if typ is None or any(v != vals[0] for v in vals[1:]) or any(isinstance(v, tuple) for v in vals):
            rows.append([p, typ or "?"] + [v if isinstance(v, str) else json.dumps(v) for v in raw])
    if not rows:
        return []
    head = ["field", "type"] + names
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    return [f"{len(rows)} of {len(paths)} fields differ:", fmt.format(*head)] + [fmt.format(*r) for r in rows]


def read(name):
    with seqshm.open(name) as s:
        if s.schema.kind != "struct":
            raise SystemExit(f"{name}: a {s.schema.kind} segment, want a struct")
        seq, value, _ = s.read()
        return s.schema, value


def agree(name, args):
    schema, value = read(name)
    types = schema_types(schema.fields)
    sources = {}
    for a in args:
        src, sep, path = a.partition("=")
        if not sep:
            raise SystemExit(f"want SOURCE=FILE, got {a!r}")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if src == "go-json":
            # Go writes a negative zero as -0, which Python parses as the int 0.
            sources[src] = flatten(json.loads(text, parse_int=lambda s: -0.0 if s == "-0" else int(s))["value"])
        else:
            sources[src] = parse_fields(text)
    with seqshm.open(name) as s:
        sources["py"] = flatten(s.read_decoded()[1])
    return types, sources


def numpy_check(name, want_path):
    import numpy as np
    with open(want_path, encoding="utf-8") as f:
        want = parse_fields(f.read())
    schema, value = read(name)
    types = schema_types(schema.fields)
    with seqshm.open(name) as s:
        dt = s.dtype()
    if dt.itemsize != schema.size:
        raise SystemExit(f"numpy dtype of {dt.itemsize} bytes, the schema says {schema.size}")
    a = np.frombuffer(value, dt)[0]
    return types, {"go-writer": want, "numpy": flatten_numpy(a), "py": flatten(schema.decode(value))}


def main(argv):
    if len(argv) >= 3 and argv[0] == "agree":
        types, sources = agree(argv[1], argv[2:])
    elif len(argv) == 3 and argv[0] == "numpy":
        types, sources = numpy_check(argv[1], argv[2])
    else:
        raise SystemExit("usage: crosscheck.py agree SEGMENT SOURCE=FILE...  |  crosscheck.py numpy SEGMENT WANT")
    diff = compare(types, sources)
    if diff:
        print("\n".join(diff))
        return 1
    if not types:
        print("no fields")
        return 1
    print(f"ok {len(types)} fields")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
