#!/usr/bin/env python3
"""Read seqshm segments (layout version 1) from Python, standard library only.

    import seqshm
    with seqshm.open("imu") as seg:
        seq, value, publish_time_ns = seg.read()
        print(seg.info())

A segment is the file $SEQSHM_DIR/NAME (default /dev/shm/NAME) written by
one seqshm writer; docs/layout.md specifies its bytes and the protocol. This
module maps it read-only, validates the header exactly as the Go reader does
(seqlock.decodeHeader), and reads the newest complete value with the
two-slot sequence-lock algorithm:

    s1 = counter; if s1 < 2: no value yet
    m = s1 // 2; copy slot m % 2          (length checked against capacity)
    s2 = counter; valid iff s1 <= s2 <= 2*m + 2, else retry (bounded)
    then the slot's write number must be m and its length <= capacity

Memory model: what is guaranteed and what is not
------------------------------------------------

Python has no memory model for memory shared with other processes and no
atomics API. What this module relies on is the behaviour of CPython and of
the CPUs, not a language guarantee:

* Counter and slot-header words are read through a memoryview cast to
  native unsigned 64-bit integers. CPython unpacks such an item with a
  fixed-size 8-byte memcpy, which GCC and Clang compile to one aligned
  8-byte load (MOV on x86-64, LDR on AArch64). Aligned 8-byte loads are
  single-copy atomic on both, so a counter is never read half old, half new.
  (struct.unpack_from('<Q', ...) would assemble the word byte by byte and
  could tear; it is not used for shared words.)
* The payload is copied with a slice of the mmap, a memcpy of the bytes
  (under the GIL, which only matters between threads of this process; the
  writer is another process and the GIL does not order anything for it).
  The copy may be torn while the writer works: that is expected, and the
  second counter load is what detects it.
* The algorithm needs the loads in order: first counter, then copy, then
  second counter. The CPython interpreter does them in that order in its own
  program order (each is a separate C call the compiler cannot move across
  the others).
  - x86-64 (TSO): the hardware never reorders a load with a later load, so
    program order is enough. On x86-64 the reads are correct in practice.
  - AArch64: loads may be performed out of order, and pure Python has no
    fence instruction. This module borrows one: between the first counter
    load and the copy, and between the copy and the second counter load, it
    releases and re-acquires a threading.Lock that this thread holds. CPython
    implements lock release as a release atomic (glibc sem_post, or PyMutex
    in 3.13+) and acquire as an acquire atomic; on AArch64 a store-release
    followed by a load-acquire are kept in order (RCsc), so every load before
    the pair is ordered before every load after it -- a full load-load
    barrier. That is a property of CPython's and libc's lock implementations
    on this architecture, true for the versions we know of, not something
    Python promises. As a second line of defence the slot's write number
    must equal m, which catches a copy of the wrong write; it cannot catch a
    payload torn inside one slot.
  If you need a guarantee on AArch64 (or anywhere), use the C reader
  (clients/c/seqshm.h, via ctypes or cffi), whose ordering is C11.
* Without the GIL (free-threaded CPython 3.13t+), a Segment may be shared
  between threads; each read() copies into a new bytes object. The borrowed
  fence lock is per thread.

The reader never writes to the segment, so it cannot disturb the writer or
other readers. Waiting for a new value (wait()) polls the counter with a
backoff of 20 us to 5 ms; futex waits would need ctypes and a writable
mapping of the waiter area, which this module does not do.

CLI:  python3 seqshm.py [-f] [-j] [-i] [-d SECONDS] [--verify-crc] NAME
Exit status 0 ok, 1 failure ("seqshm.py: NAME: message" on stderr), 2 usage.
"""

import errno
import fcntl
import json
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
    "VersionError", "Corrupt", "NoValue", "Lapped", "valid_name", "segment_dir",
]

# Layout version 1 (docs/layout.md). Offsets of 8-byte little-endian fields.
LAYOUT_VERSION = 1
OFF_MAGIC, OFF_VERSION, OFF_HEADER_SIZE, OFF_CAPACITY = 0, 8, 16, 24
OFF_SLOT_SIZE, OFF_SLOT0, OFF_SLOT1, OFF_TOTAL_SIZE = 32, 40, 48, 56
OFF_FINGERPRINT, OFF_CREATED, OFF_WRITER_STATE, OFF_WRITER_PID = 64, 72, 80, 88
OFF_WRITER_START, OFF_NOTIFY, OFF_FLAGS, OFF_SEQ = 96, 104, 112, 128
HEADER_SIZE = 256
SLOT_HEADER_SIZE = 64
SLOT_OFF_LEN, SLOT_OFF_TIME, SLOT_OFF_WRITE_NUM = 0, 8, 16
NOTIFY_SIZE = 128
MAX_CAPACITY = 1 << 40
MAGIC = b"SEQSHM\x00\x00"
FLAG_MEMBARRIER = 1
STATE_INIT, STATE_RUNNING, STATE_CLOSED = 0, 1, 2
LOCK_BASE = 1 << 62  # the writer's OFD lock covers [LOCK_BASE, LOCK_BASE + 1 + pid)
MAX_LAPS = 1000
F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)  # Linux >= 3.15; 36 on every architecture

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
    """Unsupported layout version."""


class Corrupt(Error):
    """A header field or a slot is inconsistent with the mapping."""


class NoValue(Error):
    """No write has completed yet."""


class Lapped(Error):
    """The writer overtook the reader on every attempt; read again."""


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
    if v != LAYOUT_VERSION:
        raise VersionError(f"unsupported layout version: layout version {v}, this reader knows {LAYOUT_VERSION}")
    hs, cap, ss = f(OFF_HEADER_SIZE), f(OFF_CAPACITY), f(OFF_SLOT_SIZE)
    s0, s1, total = f(OFF_SLOT0), f(OFF_SLOT1), f(OFF_TOTAL_SIZE)
    nt = f(OFF_NOTIFY)

    def fits(off):
        return off >= hs and off % 8 == 0 and off <= total and total - off >= ss

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
    if not fits(s0) or not fits(s1):
        raise Corrupt(f"corrupt segment: slots at {s0} and {s1} (size {ss}) outside the {total}-byte segment")
    if (s0 < s1 and s0 + ss > s1) or (s1 < s0 and s1 + ss > s0) or s0 == s1:
        raise Corrupt(f"corrupt segment: slots at {s0} and {s1} overlap")
    if nt != 0 and (nt % 8 != 0 or nt < hs or nt > total or total - nt < NOTIFY_SIZE
                    or overlap(nt, NOTIFY_SIZE, s0, ss) or overlap(nt, NOTIFY_SIZE, s1, ss)):
        raise Corrupt(f"corrupt segment: waiter area at {nt}")
    return {
        "header_size": hs, "capacity": cap, "slot_size": ss, "slots": (s0, s1),
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

    def __init__(self, path, name=None):
        self.path = path
        self.name = name or os.path.basename(path)
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
                raise Corrupt(f"corrupt segment: region of {size} bytes is smaller than the {HEADER_SIZE}-byte header")
            self._mm = mmap.mmap(self._fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
            self.size = size
            # Native 8-byte items: see the module docstring on single loads.
            self._words = memoryview(self._mm)[: size // 8 * 8].cast("Q")
            self._g = _decode_header(self._words, size)
        except BaseException:
            self.close()
            raise
        self.capacity = self._g["capacity"]
        self._fence = _Fence()

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
        return self._words[OFF_SEQ // 8] // 2

    def read(self):
        """Return (seq, value, publish_time_ns) of the newest complete value.

        seq is the write number (1 for the first write); publish_time_ns is
        Unix nanoseconds, 0 if the writer did not stamp it. Raises NoValue
        before the first write, Lapped if overtaken MAX_LAPS times, Corrupt
        if the slot contradicts the header.
        """
        w, mm, cap, fence = self._words, self._mm, self.capacity, self._fence
        slots = self._g["slots"]
        for lap in range(MAX_LAPS):
            s1 = w[OFF_SEQ // 8]
            if s1 < 2:
                raise NoValue("no value published yet")
            fence()  # acquire: the loads below after s1 (matters on AArch64)
            m = s1 // 2
            off = slots[m & 1]
            n = w[off // 8 + SLOT_OFF_LEN // 8]
            t = w[off // 8 + SLOT_OFF_TIME // 8]
            num = w[off // 8 + SLOT_OFF_WRITE_NUM // 8]
            # The length is untrusted until validated: copy only in bounds.
            value = mm[off + SLOT_HEADER_SIZE: off + SLOT_HEADER_SIZE + n] if n <= cap else b""
            fence()  # the copy's loads before the second counter load
            s2 = w[OFF_SEQ // 8]
            if s2 < s1 or s2 - 2 * m > 2:
                if lap % 64 == 63:
                    os.sched_yield()
                continue
            if n > cap or num != m:
                raise Corrupt(f"corrupt segment: slot {m & 1} holds write {num} of {n} bytes, "
                              f"expected write {m} of at most {cap}")
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

    def info(self):
        """Describe the segment: geometry, counter and the writer's state.

        writer is, as seqlock.Subscriber.Status says: "running" if a writer
        holds the lock, "closed" if the last one closed cleanly, "none" if no
        writer ever opened it, "died" if one exited without closing, and
        "unknown" if the lock could not be probed.
        """
        w = self._words
        counter = w[OFF_SEQ // 8]
        state = w[OFF_WRITER_STATE // 8]
        pid = w[OFF_WRITER_PID // 8]
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
        d = dict(self._g)
        d["slots"] = list(d["slots"])
        d["flags"] = w[OFF_FLAGS // 8]
        d.update(name=self.name, path=self.path, map_size=self.size, counter=counter,
                 seq=counter // 2, writer=writer, writer_state=state,
                 writer_pid=pid, created_ns=w[OFF_CREATED // 8],
                 writer_start_ns=w[OFF_WRITER_START // 8], lock_held=held, lock_pid=lock_pid)
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


def open(name):  # noqa: A001 - the module's entry point, like io.open
    """Open the segment NAME in segment_dir() read-only and validate it."""
    if not valid_name(name):
        raise Error("invalid segment name: segment names are 1-200 characters of "
                    "[A-Za-z0-9._-], not starting with '.'")
    return Segment(os.path.join(segment_dir(), name), name)


# ---- CLI -----------------------------------------------------------------

def _verify(p, seq):
    """Whether p is the test payload of write seq (see clients/test.sh)."""
    n = len(p)
    return (n >= 12 and int.from_bytes(p[:8], "little") == seq
            and int.from_bytes(p[n - 4:], "little") == zlib.crc32(p[: n - 4]))


def _print_value(seg, seq, value, t, as_json):
    out = sys.stdout.buffer
    if not as_json:
        out.write(value + b"\n")
        return
    obj = {"name": seg.name, "seq": seq, "len": len(value), "time_ns": t, "writer": seg.info()["writer"]}
    try:
        obj["value"] = value.decode("utf-8")
    except UnicodeDecodeError:
        import base64
        obj["value_base64"] = base64.b64encode(value).decode("ascii")
    out.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")


def main(argv=None):
    import argparse

    prog = "seqshm.py"
    p = argparse.ArgumentParser(prog=prog, description="Print the latest value of a seqshm segment.")
    p.add_argument("-f", action="store_true", help="follow: print every new value")
    p.add_argument("-j", action="store_true", help="JSON, one object per line")
    p.add_argument("-i", action="store_true", help="print the header and writer state")
    p.add_argument("-d", type=float, default=None, metavar="SECONDS", help="with -f, stop after SECONDS")
    p.add_argument("--verify-crc", action="store_true",
                   help="check values are test payloads; print 'reads N torn T lapped L'")
    p.add_argument("name")
    a = p.parse_args(argv)

    def fail(msg):
        print(f"{prog}: {a.name}: {msg}", file=sys.stderr)
        return 1

    try:
        seg = open(a.name)
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
            if not a.f:
                try:
                    seq, value, t = seg.read()
                except Lapped:
                    seq, value, t = seg.read()
                if a.verify_crc:
                    ok = _verify(value, seq)
                    print(f"reads 1 torn {int(not ok)} lapped 0")
                    return 0 if ok else 1
                _print_value(seg, seq, value, t, a.j)
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
                    _print_value(seg, seq, value, t, a.j)
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
