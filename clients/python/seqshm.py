#!/usr/bin/env python3
"""Read seqshm segments (layout version 2) from Python, standard library only.

    import seqshm
    with seqshm.open("imu") as seg:
        seq, value, publish_time_ns = seg.read()      # value: bytes
        print(seg.info())
        seq, obj, publish_time_ns = seg.read_decoded()  # as the schema says

Values with a schema (docs/layout.md, "Schema area"): seg.schema says what
they are. read_decoded() and seg.decode(value) give a dict for a struct
(field name -> value; arrays -> lists; char[N] -> str up to the first NUL;
nested structs -> dicts; bools -> bool), str for text, the parsed object
for json, and bytes otherwise. seg.dtype() gives the numpy structured dtype
of a struct (numpy.frombuffer(value, seg.dtype())); seg.schema.dtype_spec()
the same description as plain data, without numpy.

Value sizes: a header may claim a capacity of up to 1 TiB, so read() copies
only the value's length, and refuses (Limit) a value larger than the
max_value given to open(), 64 MiB by default.

Do not open segments with multiprocessing.shared_memory.SharedMemory: it
opens them read-write (so it fails on a segment you may only read), its
resource tracker unlinks the segment when your process exits (unless
track=False, Python 3.13+, or you unregister it), and it can unlink on
errors. This module opens the file read-only (os.open + mmap.PROT_READ).

A segment is the file $SEQSHM_DIR/NAME (default /dev/shm/NAME) written by
one seqshm writer; docs/layout.md specifies its bytes and the protocol. This
module maps it read-only, validates the header exactly as the Go reader does
(seqlock.decodeHeader), and reads the newest complete value with the
sequence-lock algorithm of docs/layout.md, validated against the sequence
word of the slot read (which changes only when that slot is rewritten,
every N writes), not against the counter (which changes twice per write):

    c = counter; if c < 2: no value yet
    m = c // 2; slot = slot0 + (m % N) * slot_size
    s1 = slot's sequence word; s1 < 2*m: corrupt; s1 != 2*m: lapped, retry
    copy the slot's length, time and payload  (length checked against capacity)
    s2 = slot's sequence word; valid iff s2 == s1, else retry (bounded)
    then the slot's length must be <= capacity

A segment of layout version 1 (written by an older seqshm) is refused with
VersionError: remove it and let the writer re-create it.

Memory model: what is guaranteed and what is not
------------------------------------------------

Python has no memory model for memory shared with other processes and no
atomics API. What this module relies on is the behaviour of CPython and of
the CPUs, not a language guarantee:

* Counter and slot-header words are read through a memoryview cast to
  native unsigned 64-bit integers. CPython unpacks such an item with a
  fixed-size 8-byte memcpy, which GCC and Clang compile to one aligned
  8-byte load (MOV on x86-64, LDR on AArch64). Aligned 8-byte loads are
  single-copy atomic on both, so a counter or sequence word is never read
  half old, half new.
  (struct.unpack_from('<Q', ...) would assemble the word byte by byte and
  could tear; it is not used for shared words.)
* The payload is copied with a slice of the mmap, a memcpy of the bytes
  (under the GIL, which only matters between threads of this process; the
  writer is another process and the GIL does not order anything for it).
  The copy may be torn while the writer works: that is expected, and the
  second load of the slot's sequence word is what detects it.
* The algorithm needs the loads in order: the counter, the sequence word,
  the copy, the sequence word again. The CPython interpreter does them in
  that order in its own program order (each is a separate C call the
  compiler cannot move across the others).
  - x86-64 (TSO): the hardware never reorders a load with a later load, so
    program order is enough. On x86-64 the reads are correct in practice.
  - AArch64: loads may be performed out of order, and pure Python has no
    fence instruction. This module borrows one: between the counter
    load and the sequence word, between the sequence word and the copy, and
    between the copy and the second load of the sequence word, it releases
    and re-acquires a threading.Lock that this thread holds. CPython
    implements lock release as a release atomic (glibc sem_post, or PyMutex
    in 3.13+) and acquire as an acquire atomic; on AArch64 a store-release
    followed by a load-acquire are kept in order (RCsc), so every load before
    the pair is ordered before every load after it -- a full load-load
    barrier. That is a property of CPython's and libc's lock implementations
    on this architecture, true for the versions we know of, not something
    Python promises. Without it a torn copy could be accepted on AArch64.
  If you need a guarantee on AArch64 (or anywhere), use the C reader
  (clients/c/seqshm.h, via ctypes or cffi), whose ordering is C11.
* Without the GIL (free-threaded CPython 3.13t+), a Segment may be shared
  between threads; each read() copies into a new bytes object. The borrowed
  fence lock is per thread.

The reader never writes to the segment, so it cannot disturb the writer or
other readers. Waiting for a new value (wait()) polls the counter with a
backoff of 20 us to 5 ms; futex waits would need ctypes and a writable
mapping of the waiter area, which this module does not do.

CLI:  python3 seqshm.py [-f] [-j] [-i] [-d SECONDS] [-m BYTES] [--fields] [--verify-crc] NAME
Exit status 0 ok, 1 failure ("seqshm.py: NAME: message" on stderr), 2 usage.
"""

import errno
import fcntl
import json
import math
import mmap
import os
import stat
import struct
import sys
import threading
import time
import zlib

__all__ = [
    "open", "Segment", "Error", "NotFound", "NotSegment", "NotReady", "NotSeqshm",
    "VersionError", "Corrupt", "NoValue", "Lapped", "Limit", "SchemaError", "Schema", "Field",
    "decode_schema", "valid_name", "segment_dir", "DEFAULT_MAX_VALUE",
]

# Layout version 2 (docs/layout.md). Offsets of 8-byte little-endian fields.
LAYOUT_VERSION = 2
OFF_MAGIC, OFF_VERSION, OFF_HEADER_SIZE, OFF_CAPACITY = 0, 8, 16, 24
OFF_SLOT_SIZE, OFF_SLOT0, OFF_SLOT_COUNT, OFF_TOTAL_SIZE = 32, 40, 48, 56  # version 1 had slot 1's offset at 48
OFF_FINGERPRINT, OFF_CREATED, OFF_WRITER_STATE, OFF_WRITER_PID = 64, 72, 80, 88
OFF_WRITER_START, OFF_NOTIFY, OFF_FLAGS, OFF_PID_NS = 96, 104, 112, 120
OFF_COUNTER = 128  # the counter: 2n-1 while write n is in progress, 2n once it is complete
OFF_SEQ = OFF_COUNTER  # older name of the counter's offset
HEADER_SIZE = 256  # the fixed header; the schema area follows, up to the header size
MIN_SLOTS, MAX_SLOTS = 2, 64  # slot_count: a power of two in [2, 64]
SLOT_HEADER_SIZE = 64
# Within a slot: its sequence word (2n-1 while write n is in progress in it,
# 2n once complete), the payload length and the publish time, then reserved
# bytes 24..63; the payload follows the 64-byte slot header.
SLOT_OFF_SSEQ, SLOT_OFF_LEN, SLOT_OFF_TIME = 0, 8, 16
NOTIFY_SIZE = 128
MAX_CAPACITY = 1 << 40
MAGIC = b"SEQSHM\x00\x00"
FLAG_MEMBARRIER = 1
STATE_INIT, STATE_RUNNING, STATE_CLOSED = 0, 1, 2
LOCK_BASE = 1 << 62  # the writer's OFD lock covers [LOCK_BASE, LOCK_BASE + 1 + pid)
MAX_LAPS = 1000
F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)  # Linux >= 3.15; 36 on every architecture
DEFAULT_MAX_VALUE = 64 << 20  # read() refuses larger values unless open(max_value=...) says otherwise

# Schema format version 1 (docs/layout.md, "Schema area").
SCHEMA_MAGIC = b"SQSC"
SCHEMA_VERSION = 1
SCHEMA_MAX_DEPTH, SCHEMA_MAX_FIELDS = 8, 1024
SCHEMA_MAX_NAME, SCHEMA_MAX_UNIT = 64, 64
SCHEMA_MAX_SIZE, SCHEMA_MAX_BINARY = 1 << 30, 1 << 18
KINDS = ("bytes", "text", "json", "struct")
# type code -> (name, element size, struct format code (little-endian), numpy format)
TYPES = {
    1: ("bool", 1, "?", "?"), 2: ("int8", 1, "b", "i1"), 3: ("int16", 2, "h", "<i2"),
    4: ("int32", 4, "i", "<i4"), 5: ("int64", 8, "q", "<i8"), 6: ("uint8", 1, "B", "u1"),
    7: ("uint16", 2, "H", "<u2"), 8: ("uint32", 4, "I", "<u4"), 9: ("uint64", 8, "Q", "<u8"),
    10: ("float32", 4, "f", "<f4"), 11: ("float64", 8, "d", "<f8"), 12: ("char", 0, None, None),
    13: ("struct", 0, None, None),
}
T_CHAR, T_STRUCT = 12, 13

if sys.byteorder != "little":
    raise ImportError("seqshm: only little-endian hosts are supported")


class Error(Exception):
    """Base class of the errors of this module."""


class NotFound(Error):
    """No such segment."""


class NotSegment(Error):
    """The path is not a regular file."""


class NotReady(Error):
    """The magic is still zero: a writer is initialising the segment."""


class NotSeqshm(Error):
    """The file does not start with the seqshm magic."""


class VersionError(Error):
    """Another layout version: 1 is an older seqshm's (remove the segment and
    let the writer re-create it), others are a newer one's."""


class Corrupt(Error):
    """A header field or a slot is inconsistent with the mapping."""


class NoValue(Error):
    """No write has completed yet."""


class Lapped(Error):
    """The writer overtook the reader on every attempt; read again."""


class Limit(Error):
    """The value is larger than the reader's limit (open(max_value=...))."""


class SchemaError(Error):
    """An invalid schema encoding (decode_schema)."""


class Field:
    """One field of a struct schema.

    name, unit ("" if none), type (the type code, 1-13) and type_name
    ("float64", "char", "struct", ...), len (0: one element; N: an array of
    N; char: N of char[N]), offset in the enclosing struct, elem_size,
    size, align, and fields (a struct's own fields, else []).
    """

    __slots__ = ("name", "unit", "type", "len", "offset", "elem_size", "size", "align", "fields", "_unpack")

    def __init__(self, name, unit, typ, n, offset):
        self.name, self.unit, self.type, self.len, self.offset = name, unit, typ, n, offset
        self.elem_size = self.size = 0
        self.align = 1
        self.fields = []
        # A number or bool field's elements, all at once (compiled once, at decode).
        fmt = TYPES[typ][2]
        self._unpack = struct.Struct(f"<{n or 1}{fmt}").unpack_from if fmt else None

    @property
    def type_name(self):
        return TYPES[self.type][0]

    def __repr__(self):
        return (f"Field({self.name!r}, {self.type_name}{f'[{self.len}]' if self.len else ''}, "
                f"offset={self.offset}{f', unit={self.unit!r}' if self.unit else ''})")


class Schema:
    """What a segment's values are: kind ("bytes", "text", "json" or
    "struct"), and for a struct its fields (a list of Field), size and
    align. present is False when the segment has no schema (bytes);
    fingerprint is the FNV-1a 64 hash of the encoding (0 without one)."""

    def __init__(self, kind="bytes", fields=None, size=0, align=1, fingerprint=0, present=False, encoding=b""):
        self.kind, self.fields, self.size, self.align = kind, fields or [], size, align
        self.fingerprint, self.present, self.encoding = fingerprint, present, encoding

    def __repr__(self):
        return f"Schema({self.text()!r})"

    def text(self):
        """The text form: "bytes", "text", "json", or "float64 x [m]; ..."."""
        if self.kind != "struct":
            return self.kind

        def decl(fields):
            out = []
            for f in fields:
                t = "struct{" + decl(f.fields) + "}" if f.type == T_STRUCT else f.type_name
                out.append(t + (f"[{f.len}]" if f.len else "") + " " + f.name + (f" [{f.unit}]" if f.unit else ""))
            return "; ".join(out)
        return decl(self.fields)

    def decode(self, value):
        """Decode one value (bytes) as the schema says: a dict for a struct,
        str for text, the parsed object for json, bytes for bytes. Raises
        Error if the value does not fit (a struct value shorter than the
        schema's size; text that is not UTF-8; json that does not parse)."""
        value = bytes(value)
        if self.kind == "text":
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError as e:
                raise Error(f"text value is not UTF-8: {e}") from None
        if self.kind == "json":
            try:
                return json.loads(value)
            except ValueError as e:
                raise Error(f"json value does not parse: {e}") from None
        if self.kind != "struct":
            return value
        if len(value) < self.size:
            raise Error(f"struct value of {len(value)} bytes, the schema says {self.size}")
        return _decode_struct(self.fields, value, 0)

    def dtype_spec(self):
        """The numpy structured dtype of a struct, as plain data that
        numpy.dtype() accepts: {"names", "formats", "offsets", "itemsize"}
        (nested structs as nested specs, arrays as (format, (N,)), char[N]
        as "S{N}"). No numpy needed."""
        if self.kind != "struct":
            raise Error(f"a {self.kind} schema has no fields")
        return _dtype_spec(self.fields, self.size)

    def dtype(self):
        """numpy.dtype(self.dtype_spec()); needs numpy."""
        import numpy  # only here: the module does not depend on numpy
        return numpy.dtype(self.dtype_spec())


def _dtype_spec(fields, size):
    names, formats, offsets = [], [], []
    for f in fields:
        if f.type == T_CHAR:
            fmt = f"S{f.len}"
        elif f.type == T_STRUCT:
            fmt = _dtype_spec(f.fields, f.elem_size)
        else:
            fmt = TYPES[f.type][3]
        if f.len and f.type != T_CHAR:
            fmt = (fmt, (f.len,))
        names.append(f.name)
        formats.append(fmt)
        offsets.append(f.offset)
    return {"names": names, "formats": formats, "offsets": offsets, "itemsize": size}


def _decode_struct(fields, b, base):
    out = {}
    for f in fields:
        off = base + f.offset
        if f.type == T_CHAR:
            raw = b[off: off + f.len]
            out[f.name] = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
            continue
        if f.type == T_STRUCT:
            items = [_decode_struct(f.fields, b, off + i * f.elem_size) for i in range(f.len or 1)]
        else:
            items = f._unpack(b, off)  # bool elements unpack as bool
        out[f.name] = list(items) if f.len else items[0]
    return out


def _fnv1a64(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h or 1


def _unit_ok(u):
    """A unit: printable UTF-8 without [ ] { } ; , # " \\ and no leading or
    trailing space (Go: unicode.IsPrint; str.isprintable is the same but
    for Unicode-version differences)."""
    try:
        s = u.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return s == s.strip() and s.isprintable() and not any(c in '[]{};,#"\\' for c in s)


def _name_ok(n):
    if not 1 <= len(n) <= SCHEMA_MAX_NAME:
        return False
    for i, c in enumerate(n):
        if not (c == 0x5F or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or (i > 0 and 0x30 <= c <= 0x39)):
            return False
    return True


class _SchemaDecoder:
    def __init__(self, b):
        self.b, self.pos, self.count = b, 0, 0

    def bad(self, msg):
        raise SchemaError(msg)

    def node(self, depth):
        """Decode and check a struct body; return (fields, size, align)."""
        b = self.b
        if depth > SCHEMA_MAX_DEPTH:
            self.bad(f"structs nested deeper than {SCHEMA_MAX_DEPTH} levels")
        if len(b) - self.pos < 8:
            self.bad(f"truncated at byte {self.pos}: struct header needs 8 bytes, {len(b) - self.pos} left")
        count, rec_align, reserved, rec_size = struct.unpack_from("<HBBI", b, self.pos)
        if reserved:
            self.bad(f"byte {self.pos + 3}: reserved byte is not zero")
        if count == 0:
            self.bad(f"byte {self.pos}: struct has no fields")
        self.count += count
        if self.count > SCHEMA_MAX_FIELDS:
            self.bad(f"more than {SCHEMA_MAX_FIELDS} fields")
        self.pos += 8
        if (len(b) - self.pos) // 12 < count:
            self.bad(f"truncated at byte {self.pos}: {count} fields need {12 * count} bytes")
        fields, names, off, align = [], set(), 0, 1
        for _ in range(count):
            at = self.pos
            if len(b) - at < 12:
                self.bad(f"truncated at byte {at}: field record needs 12 bytes")
            typ, name_len, unit_len, reserved, rec_off, n = struct.unpack_from("<BBBBII", b, at)
            if typ not in TYPES:
                self.bad(f"byte {at}: unknown type code {typ}")
            if reserved:
                self.bad(f"byte {at + 3}: reserved byte is not zero")
            if name_len > SCHEMA_MAX_NAME or unit_len > SCHEMA_MAX_UNIT:
                self.bad(f"byte {at}: name or unit longer than {SCHEMA_MAX_NAME} bytes")
            if rec_off > SCHEMA_MAX_SIZE or n > SCHEMA_MAX_SIZE:
                self.bad(f"byte {at}: offset {rec_off} or length {n} out of range")
            self.pos += 12
            if len(b) - self.pos < name_len + unit_len:
                self.bad(f"truncated at byte {self.pos}: name and unit need {name_len + unit_len} bytes")
            name = b[self.pos: self.pos + name_len]
            unit = b[self.pos + name_len: self.pos + name_len + unit_len]
            self.pos += name_len + unit_len
            if not _name_ok(name):
                self.bad(f"byte {at}: invalid field name {name!r}: want [A-Za-z_][A-Za-z0-9_]*")
            if not _unit_ok(unit):
                self.bad(f"byte {at}: invalid unit {unit!r}")
            name = name.decode("ascii")
            if name in names:
                self.bad(f"field {name}: duplicate name")
            names.add(name)
            f = Field(name, unit.decode("utf-8"), typ, n, rec_off)
            if typ == T_CHAR:
                if n < 1:
                    self.bad(f"field {name}: char needs a length: char[N]")
                esize, ealign = n, 1
            elif typ == T_STRUCT:
                f.fields, esize, ealign = self.node(depth + 1)
            else:
                esize = ealign = TYPES[typ][1]
            size = esize * n if n and typ != T_CHAR else esize
            off = (off + ealign - 1) // ealign * ealign
            if size > SCHEMA_MAX_SIZE or off + size > SCHEMA_MAX_SIZE:
                self.bad(f"field {name}: struct larger than {SCHEMA_MAX_SIZE} bytes")
            if rec_off != off:
                self.bad(f"field {name}: offset {rec_off} recorded, C layout gives {off}")
            f.elem_size, f.size, f.align = esize, size, ealign
            fields.append(f)
            off += size
            align = max(align, ealign)
        size = (off + align - 1) // align * align
        if size > SCHEMA_MAX_SIZE:
            self.bad(f"struct larger than {SCHEMA_MAX_SIZE} bytes")
        if rec_size != size or rec_align != align:
            self.bad(f"size {rec_size} and alignment {rec_align} recorded, C layout gives {size} and {align}")
        return fields, size, align


def decode_schema(area):
    """Decode a schema area (the bytes from offset 256 to the header size,
    or a bare encoding) into a Schema. Without the magic "SQSC" there is no
    schema: bytes. Otherwise only the canonical encoding of a valid schema
    is accepted, with the checks of Go's schema.UnmarshalBinary; anything
    else raises SchemaError."""
    area = bytes(area[:SCHEMA_MAX_BINARY])
    if area[:4] != SCHEMA_MAGIC:
        return Schema()
    if len(area) < 16:
        raise SchemaError(f"{len(area)} bytes, shorter than the 16-byte header")
    if area[4] != SCHEMA_VERSION:
        raise SchemaError(f"version {area[4]}, want {SCHEMA_VERSION}")
    (n,) = struct.unpack_from("<I", area, 8)
    if not 16 <= n <= SCHEMA_MAX_BINARY:
        raise SchemaError(f"length {n} out of range 16..{SCHEMA_MAX_BINARY}")
    if n > len(area):
        raise SchemaError(f"schema of {n} bytes larger than its area of {len(area)} bytes")
    b = area[:n]
    kind = b[5]
    if kind > 3:
        raise SchemaError(f"unknown kind {kind}")
    if b[6] or b[7]:
        raise SchemaError("reserved header bytes 6..7 are not zero")
    (value_size,) = struct.unpack_from("<I", b, 12)
    if kind != 3:
        if n != 16 or value_size != 0:
            raise SchemaError(f"a {KINDS[kind]} schema has no fields and value size 0")
        return Schema(KINDS[kind], fingerprint=_fnv1a64(b), present=True, encoding=b)
    d = _SchemaDecoder(b)
    d.pos = 16
    fields, size, align = d.node(1)
    if d.pos != n:
        raise SchemaError(f"{n - d.pos} bytes after the last field")
    if size != value_size:
        raise SchemaError(f"header value size {value_size}, struct size {size}")
    return Schema("struct", fields, size, align, _fnv1a64(b), True, b)


def valid_name(name):
    """Report whether name is 1-200 chars of [A-Za-z0-9._-], not starting with '.'."""
    if not name or len(name) > 200 or name[0] == ".":
        return False
    return all(c.isascii() and (c.isalnum() or c in "._-") for c in name)


def segment_dir():
    """The directory holding segments: $SEQSHM_DIR, else /dev/shm."""
    return os.environ.get("SEQSHM_DIR") or "/dev/shm"


def _quote(b):
    """Quote bytes as the Go and C readers do: "SEQ\\x00..."."""
    return '"' + "".join(chr(c) if 0x20 <= c < 0x7F and c not in b'"\\' else f"\\x{c:02x}" for c in b) + '"'


def _decode_header(words, size):
    """Validate the header against the mapping size, as seqlock.decodeHeader.

    words is the mapping viewed as native uint64 items (word i = bytes
    8i..8i+7); size is the mapping's length in bytes. Returns a dict.
    """
    if size < HEADER_SIZE:
        raise Corrupt(f"region of {size} bytes is smaller than the {HEADER_SIZE}-byte header")
    f = lambda off: words[off // 8]  # noqa: E731 - one aligned 8-byte load
    m = f(OFF_MAGIC)
    if m == 0:
        raise NotReady("segment not initialised yet")
    if m.to_bytes(8, "little") != MAGIC:
        raise NotSeqshm(f"not a seqshm segment: bad magic {_quote(m.to_bytes(8, 'little'))}")
    v = f(OFF_VERSION)
    if v == 1:
        raise VersionError(f"unsupported layout version: layout version 1, written by an older seqshm; this "
                           f"one reads version {LAYOUT_VERSION} only: remove the segment and let the writer "
                           f"re-create it")
    if v != LAYOUT_VERSION:
        raise VersionError(f"unsupported layout version: layout version {v}, this reader knows {LAYOUT_VERSION}")
    hs, cap, ss = f(OFF_HEADER_SIZE), f(OFF_CAPACITY), f(OFF_SLOT_SIZE)
    s0, n, total = f(OFF_SLOT0), f(OFF_SLOT_COUNT), f(OFF_TOTAL_SIZE)
    nt = f(OFF_NOTIFY)

    def overlap(a, an, b, bn):
        return a < b + bn and b < a + an

    if hs < HEADER_SIZE or hs > size:
        raise Corrupt(f"corrupt segment: header size {hs} outside [{HEADER_SIZE}, {size}]")
    if total > size:
        raise Corrupt(f"corrupt segment: header says {total} bytes, region has {size} (truncated?)")
    if cap < 1 or cap > MAX_CAPACITY:
        raise Corrupt(f"corrupt segment: capacity {cap}")
    if ss < SLOT_HEADER_SIZE + cap or ss > total or ss % 8 != 0:
        raise Corrupt(f"corrupt segment: slot size {ss} for capacity {cap}")
    if n < MIN_SLOTS or n > MAX_SLOTS or n & (n - 1):
        raise Corrupt(f"corrupt segment: slot count {n}, not a power of two in [{MIN_SLOTS}, {MAX_SLOTS}]")
    if s0 < hs or s0 % 8 != 0 or s0 > total or total - s0 < n * ss:
        raise Corrupt(f"corrupt segment: {n} slots of {ss} bytes at {s0} outside the {total}-byte segment")
    if nt != 0 and (nt % 8 != 0 or nt < hs or nt > total or total - nt < NOTIFY_SIZE
                    or overlap(nt, NOTIFY_SIZE, s0, n * ss)):
        raise Corrupt(f"corrupt segment: waiter area at {nt}")
    return {
        "header_size": hs, "capacity": cap, "slot_size": ss, "slot0": s0, "slot_count": n,
        "total_size": total, "fingerprint": f(OFF_FINGERPRINT), "notify": nt,
        "flags": f(OFF_FLAGS),
    }


class _Fence(threading.local):
    """A load-load barrier borrowed from the lock implementation (see the
    module docstring): release then acquire a lock this thread holds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.lock.acquire()

    def __call__(self):
        self.lock.release()
        self.lock.acquire()


class Segment:
    """An open segment, mapped read-only. Use open() to make one.

    read(), seq(), info() and wait() may be called from several threads.
    close() must not run concurrently with them.
    """

    def __init__(self, path, name=None, max_value=DEFAULT_MAX_VALUE):
        if max_value is None or max_value <= 0:
            raise ValueError(f"max_value {max_value!r} is not a positive number of bytes")
        self.path = path
        self.name = name or os.path.basename(path)
        self.max_value = max_value
        self._fd = -1
        self._mm = None
        self._words = None
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
        try:
            self._fd = os.open(path, flags)
        except FileNotFoundError:
            raise NotFound("no such segment") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise NotSegment(f"not a segment: {path} is a symbolic link (not followed)") from None
            raise
        try:
            st = os.fstat(self._fd)
            if not stat.S_ISREG(st.st_mode):
                raise NotSegment(f"not a segment: {path} is not a regular file")
            size = st.st_size
            if size < HEADER_SIZE:
                # A writer creates the file empty, locks it, then sizes it:
                # retry for a while before calling it another program's.
                raise NotReady(f"segment not initialised yet: file of {size} bytes is smaller than "
                               f"the {HEADER_SIZE}-byte header")
            self._mm = mmap.mmap(self._fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
            self.size = size
            # Native 8-byte items: see the module docstring on single loads.
            self._words = memoryview(self._mm)[: size // 8 * 8].cast("Q")
            self._g = _decode_header(self._words, size)
            self.schema = self._decode_schema_area()
        except BaseException:
            self.close()
            raise
        self.capacity = self._g["capacity"]
        self._fence = _Fence()

    def _decode_schema_area(self):
        """Decode the schema area (a private copy of it) and check it
        against the header, as the Go reader does."""
        hs = self._g["header_size"]
        if hs <= HEADER_SIZE:
            return Schema()
        area = self._mm[HEADER_SIZE: min(hs, HEADER_SIZE + SCHEMA_MAX_BINARY)]  # a copy
        try:
            sc = decode_schema(area)
        except SchemaError as e:
            raise Corrupt(f"corrupt segment: schema area: {e}") from None
        g = self._g
        if sc.kind == "struct" and (sc.size != g["capacity"] or sc.fingerprint != g["fingerprint"]):
            raise Corrupt(f"corrupt segment: schema area: struct schema of {sc.size} bytes (fingerprint "
                          f"{sc.fingerprint:#x}) in a segment of capacity {g['capacity']} (fingerprint "
                          f"{g['fingerprint']:#x})")
        return sc

    def decode(self, value):
        """Decode a value read from this segment; see Schema.decode."""
        return self.schema.decode(value)

    def read_decoded(self):
        """read(), with the value decoded as the schema says (Schema.decode)."""
        seq, value, t = self.read()
        return seq, self.schema.decode(value), t

    def dtype(self):
        """The numpy structured dtype of the segment's struct values."""
        return self.schema.dtype()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Unmap the segment and close its file."""
        if self._words is not None:
            self._words.release()
            self._words = None
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def seq(self):
        """The write number of the newest complete value, 0 if none."""
        return self._words[OFF_COUNTER // 8] // 2

    def read(self):
        """Return (seq, value, publish_time_ns) of the newest complete value.

        seq is the write number (1 for the first write); publish_time_ns is
        Unix nanoseconds, 0 if the writer did not stamp it. Raises NoValue
        before the first write, Lapped if overtaken MAX_LAPS times, Corrupt
        if the slot contradicts the header, Limit if the value is larger
        than max_value (nothing is copied for it).
        """
        w, mm, cap, fence = self._words, self._mm, self.capacity, self._fence
        limit = min(cap, self.max_value)
        slot0, ss, mask = self._g["slot0"], self._g["slot_size"], self._g["slot_count"] - 1
        for lap in range(MAX_LAPS):
            if lap and lap % 64 == 0:
                os.sched_yield()
            c = w[OFF_COUNTER // 8]
            if c < 2:
                raise NoValue("no value published yet")
            fence()  # acquire: the loads below after the counter's (matters on AArch64)
            m = c // 2  # the newest complete write, in slot m % N
            off = slot0 + (m & mask) * ss
            s1 = w[off // 8 + SLOT_OFF_SSEQ // 8]
            if s1 < 2 * m:  # a correct writer stores sseq = 2m before counter = 2m
                raise Corrupt(f"corrupt segment: slot {m & mask} holds sequence word {s1}, below the {2 * m} "
                              f"of write {m} that the counter says is complete")
            if s1 != 2 * m:
                continue  # write m + N or later has begun in this slot: lapped
            fence()  # acquire: the slot's loads after s1
            n = w[off // 8 + SLOT_OFF_LEN // 8]
            t = w[off // 8 + SLOT_OFF_TIME // 8]
            # The length is untrusted until validated: copy only in bounds,
            # and only up to the limit (the buffer is sized from the value).
            value = mm[off + SLOT_HEADER_SIZE: off + SLOT_HEADER_SIZE + n] if n <= limit else b""
            fence()  # the copy's loads before the second load of the sequence word
            s2 = w[off // 8 + SLOT_OFF_SSEQ // 8]
            if s2 != s1:
                continue  # write m + N has begun meanwhile: the copy may be torn
            if n > cap:
                raise Corrupt(f"corrupt segment: slot {m & mask} holds write {m} of {n} bytes, at most {cap} fit")
            if n > self.max_value:
                raise Limit(f"value larger than the reader's limit: value of {n} bytes, "
                            f"the limit is {self.max_value}")
            if t >= 1 << 63:
                t -= 1 << 64  # int64
            return m, value, t
        raise Lapped("reader lapped by the writer too often")

    def writer_lock(self):
        """Probe the writer lock: (held, pid); pid is 0 if unknown."""
        req = struct.pack("@hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, LOCK_BASE, 0, 0)
        res = fcntl.fcntl(self._fd, F_OFD_GETLK, req)
        typ, _, start, length, pid = struct.unpack("@hhqqi4x", res)
        if typ == fcntl.F_UNLCK:
            return False, 0
        if start == LOCK_BASE and length > 1:
            return True, length - 1
        return True, max(pid, 0)

    def _writer(self):
        """(writer, counter, state, pid, held, lock_pid): the writer's state
        as info() names it, and what it was derived from."""
        w = self._words
        counter, state, pid = w[OFF_COUNTER // 8], w[OFF_WRITER_STATE // 8], w[OFF_WRITER_PID // 8]
        try:
            held, lock_pid = self.writer_lock()
        except OSError:
            held, lock_pid = None, 0
        if held:
            writer = "running"
        elif state == STATE_CLOSED:
            writer = "closed"
        elif held is None:
            writer = "unknown"
        elif state == STATE_INIT and counter // 2 == 0 and pid == 0:
            writer = "none"
        else:
            writer = "died"
        return writer, counter, state, pid, held, lock_pid

    def writer(self):
        """The writer's state, as info()["writer"] (without the rest of info())."""
        return self._writer()[0]

    def info(self):
        """Describe the segment: geometry, counter and the writer's state.

        writer is, as seqlock.Subscriber.Stat says: "running" (Go: "alive")
        if a writer holds the lock, "closed" if the last one closed cleanly,
        "none" if no writer ever opened it, "died" if one exited without
        closing, and "unknown" if the lock could not be probed.
        """
        w = self._words
        writer, counter, state, pid, held, lock_pid = self._writer()
        pid_ns = w[OFF_PID_NS // 8]
        own_ns = _own_pid_ns()
        d = dict(self._g)
        d["flags"] = w[OFF_FLAGS // 8]
        d.update(name=self.name, path=self.path, map_size=self.size, counter=counter,
                 seq=counter // 2, writer=writer, writer_state=state,
                 writer_pid=pid, created_ns=w[OFF_CREATED // 8],
                 writer_start_ns=w[OFF_WRITER_START // 8], lock_held=held, lock_pid=lock_pid,
                 writer_pid_ns=pid_ns, pid_ns=own_ns, pid_foreign=bool(pid_ns and own_ns and pid_ns != own_ns),
                 kind=self.schema.kind, schema=self.schema.text(), schema_size=self.schema.size)
        return d

    def wait(self, after, timeout=None):
        """Wait until the newest write number exceeds after (polling with
        backoff); return it, or the current one when timeout seconds pass."""
        deadline = None if timeout is None else time.monotonic() + timeout
        d = 20e-6
        while True:
            s = self.seq()
            if s > after:
                return s
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return s
                d = min(d, left)
            time.sleep(d)
            d = min(2 * d, 5e-3)


def _own_pid_ns():
    """This process's PID namespace (inode of /proc/self/ns/pid), 0 if unknown."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def open(name, max_value=DEFAULT_MAX_VALUE):  # noqa: A001 - the module's entry point, like io.open
    """Open the segment NAME in segment_dir() read-only, validate its header
    and decode its schema area. read() refuses values larger than max_value
    bytes (Limit). A segment a writer is still creating (file too small, or
    magic zero) raises NotReady: retry for a bounded time."""
    if not valid_name(name):
        raise Error("invalid segment name: segment names are 1-200 characters of "
                    "[A-Za-z0-9._-], not starting with '.'")
    return Segment(os.path.join(segment_dir(), name), name, max_value)


# ---- CLI -----------------------------------------------------------------

def _verify(p, seq):
    """Whether p is the test payload of write seq (see clients/test.sh)."""
    n = len(p)
    return (n >= 12 and int.from_bytes(p[:8], "little") == seq
            and int.from_bytes(p[n - 4:], "little") == zlib.crc32(p[: n - 4]))


def _fmt_float(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return "%.17g" % x


def _leaves(obj, path):
    """(path, value) of every number, bool and char field of a decoded struct."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, obj


def _fmt_leaf(v, quote=False):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _fmt_float(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False) if quote else v
    return str(v)


def _jsonable(obj):
    """NaN and infinities as the strings "NaN", "+Inf", "-Inf", as Go does."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return _fmt_float(obj)
    return obj


def _print_value(seg, seq, value, t, as_json, fields=False):
    out = sys.stdout.buffer
    is_struct = seg.schema.kind == "struct"
    if fields:
        out.write("".join(f"{p}={_fmt_leaf(v)}\n" for p, v in _leaves(seg.decode(value), "")).encode())
        return
    if not as_json:
        if is_struct:
            line = " ".join(f"{p}={_fmt_leaf(v, True)}" for p, v in _leaves(seg.decode(value), ""))
            out.write(line.encode() + b"\n")
        else:
            out.write(value + b"\n")
        return
    obj = {"name": seg.name, "seq": seq, "len": len(value), "time_ns": t, "writer": seg.writer()}
    if is_struct or seg.schema.kind == "json":
        obj["value"] = _jsonable(seg.decode(value))
    else:
        try:
            obj["value"] = value.decode("utf-8")
        except UnicodeDecodeError:
            import base64
            obj["value_base64"] = base64.b64encode(value).decode("ascii")
    out.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")


def _parse_size(a):
    """BYTES: a number with an optional K, M or G (KiB, MiB, GiB) suffix."""
    import re
    m = re.fullmatch(r"([0-9]+)(?:([KkMG])(?:i?B)?)?", a)
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"not a size in bytes (such as 1048576 or 64MiB): {a}")
    return int(m.group(1)) << {None: 0, "K": 10, "k": 10, "M": 20, "G": 30}[m.group(2)]


def main(argv=None):
    import argparse

    prog = "seqshm.py"
    p = argparse.ArgumentParser(prog=prog, description="Print the latest value of a seqshm segment.")
    p.add_argument("-f", action="store_true", help="follow: print every new value")
    p.add_argument("-j", action="store_true", help="JSON, one object per line")
    p.add_argument("-i", action="store_true", help="print the header and writer state")
    p.add_argument("-d", type=float, default=None, metavar="SECONDS", help="with -f, stop after SECONDS")
    p.add_argument("-m", "--max-size", type=_parse_size, default=DEFAULT_MAX_VALUE, metavar="BYTES",
                   help="refuse values larger than BYTES (default 64MiB)")
    p.add_argument("--fields", action="store_true",
                   help="a struct value as one path=value line per number, bool or char field")
    p.add_argument("--verify-crc", action="store_true",
                   help="check values are test payloads; print 'reads N torn T lapped L'")
    p.add_argument("name")
    a = p.parse_args(argv)

    def fail(msg):
        print(f"{prog}: {a.name}: {msg}", file=sys.stderr)
        return 1

    try:
        seg = open(a.name, max_value=a.max_size)
    except NotFound:
        return fail(f"no such segment in {segment_dir()}")
    except (Error, OSError) as e:
        return fail(str(e))
    with seg:
        try:
            if a.i:
                d = seg.info()
                if a.j:
                    print(json.dumps(d, separators=(",", ":")))
                else:
                    for k, v in d.items():
                        print(f"{k + ':':<17}{v}")
                return 0
            if a.fields and seg.schema.kind != "struct":
                return fail("--fields: the segment's values are not structs")
            if not a.f:
                try:
                    seq, value, t = seg.read()
                except Lapped:
                    seq, value, t = seg.read()
                if a.verify_crc:
                    ok = _verify(value, seq)
                    print(f"reads 1 torn {int(not ok)} lapped 0")
                    return 0 if ok else 1
                _print_value(seg, seq, value, t, a.j, a.fields)
                return 0
            end = None if a.d is None else time.monotonic() + a.d
            last = reads = torn = lapped = 0
            while end is None or time.monotonic() < end:
                try:
                    seq, value, t = seg.read()
                except NoValue:
                    seg.wait(0, 0.2)
                    continue
                except Lapped:
                    lapped += 1
                    continue
                if seq < last:
                    return fail("value went back in time")
                if a.verify_crc:
                    reads += 1
                    if not _verify(value, seq):
                        torn += 1
                        print(f"{prog}: {a.name}: torn value accepted: write {seq}, {len(value)} bytes",
                              file=sys.stderr)
                    last = seq
                    continue  # read back to back, racing the writer
                if seq > last:
                    _print_value(seg, seq, value, t, a.j, a.fields)
                    sys.stdout.flush()
                last = seq
                seg.wait(last, 0.2 if end is None else max(0.0, min(0.2, end - time.monotonic())))
            if a.verify_crc:
                print(f"reads {reads} torn {torn} lapped {lapped}")
                return 1 if torn or not reads else 0
            return 0
        except KeyboardInterrupt:
            return 0
        except (Error, OSError) as e:
            return fail(str(e))


if __name__ == "__main__":
    sys.exit(main())
