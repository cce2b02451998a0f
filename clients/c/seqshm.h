/*
 * seqshm.h - read seqshm segments (layout version 2) from C.
 *
 * Single header, C11 <stdatomic.h> and libc only, every function static
 * inline. The byte layout, the schema format and the protocol are specified
 * in docs/layout.md; this file follows it.
 *
 * Include this header before any system header (on Linux it defines
 * _GNU_SOURCE for syscall(), F_OFD_GETLK and friends; on Windows
 * __USE_MINGW_ANSI_STDIO), or define those yourself.
 *
 * Supported: Linux and Windows on little-endian 64-bit CPUs with lock-free
 * 8-byte atomics (x86-64, AArch64). The memory-ordering argument below is
 * made for those two. On Windows a segment is the file NAME in seqshm_dir()
 * (%SEQSHM_DIR%, else %LOCALAPPDATA%\seqshm), else a running publisher's
 * named mapping Local\seqshm.NAME, mapped read-only; there is no
 * writer-lock probe (the writer's state is then "unknown" unless it closed
 * cleanly) and seqshm_wait polls.
 *
 *     seqshm h;
 *     int rc = seqshm_open(&h, "imu");
 *     if (rc != SEQSHM_OK) { fprintf(stderr, "%s\n", seqshm_errmsg(&h, rc)); ... }
 *     unsigned char *buf = NULL;
 *     size_t bufcap = 0;
 *     seqshm_meta meta;
 *     rc = seqshm_read_value(&h, &buf, &bufcap, &meta); // newest complete value, buffer grown as needed
 *     ...
 *     free(buf);
 *     seqshm_close(&h);
 *
 * Values with a schema (docs/layout.md, "Schema area"): h.schema says what
 * they are (kind bytes, text, json or struct); for a struct, fields are
 * found by path ("x", "pos.x", "pts[1].y") and read with typed getters
 * that check types and bounds:
 *
 *     seqshm_value v = {&h.schema, buf, (size_t)meta.len};
 *     double x; int64_t n; uint64_t u; int ok;
 *     seqshm_get_f64(&v, "pos.x", 0, &x);      // any number (or bool) as double
 *     seqshm_get_i64(&v, "count", 0, &n);      // integers that fit int64
 *     seqshm_get_u64(&v, "mask", 0, &u);       // integers >= 0
 *     seqshm_get_f64(&v, "cov", 4, &x);        // element 4 of an array
 *     seqshm_get_bool(&v, "ok", 0, &ok);
 *     char frame[17]; seqshm_get_str(&v, "frame", frame, sizeof frame);
 *
 * Value sizes: a header may claim a capacity of up to 1 TiB, so buffers are
 * sized from each value's length, never from the capacity.
 * seqshm_read_value grows its buffer to the value's length, and refuses
 * (SEQSHM_E_LIMIT) a value larger than the handle's limit, 64 MiB unless
 * seqshm_set_max_value says otherwise.
 *
 * Concurrency: one seqshm handle may be used by several threads for
 * seqshm_read, seqshm_read_value (each with its own buffer), seqshm_seq,
 * seqshm_get_info and seqshm_wait at once, except that the error detail
 * (seqshm_errmsg) is shared; seqshm_close, seqshm_set_max_value and
 * seqshm_enable_futex must not run concurrently with anything else on the
 * handle. The schema is decoded at open and immutable afterwards. The
 * handle never stores to the data mapping (it is mapped read-only);
 * seqshm_enable_futex maps the small waiter area read-write, because a
 * waiter sets the waiter bit of the waiter word there (an atomic OR; it
 * never stores anything else, anywhere).
 *
 * # Memory ordering (why seqshm_read is correct)
 *
 * The reader follows Boehm's recipe for seqlocks in the C11 model ("Can
 * seqlocks get along with programming language memory models?", MSPC 2012),
 * applied to the sequence word of one slot (docs/layout.md, "Reader
 * algorithm"):
 *
 *   c  = load(counter, acquire); m = c/2 (no value if c < 2)
 *   slot = slot0 + (m & (N-1)) * slot_size
 *   s1 = load(slot.sseq, acquire)
 *        s1 < 2m: corrupt; s1 != 2m: lapped, retry
 *   load length and time, copy the payload with relaxed atomic 8-byte loads
 *   atomic_thread_fence(acquire)
 *   s2 = load(slot.sseq, relaxed)
 *        s2 != s1: lapped, retry
 *
 * The writer (docs/layout.md gives its side) puts write n into slot
 * n & (N-1): it stores counter = 2n-1 (release), slot.sseq = 2n-1 followed
 * by atomic_thread_fence(release), the slot's length, time and payload,
 * then slot.sseq = 2n (release) and counter = 2n (release).
 *
 *   - Completeness: if c = 2m or 2m+1, the acquire load of the counter read
 *     a release store sequenced after write m's store of sseq = 2m, so s1 >=
 *     2m (coherence: sseq grows; its one step back, when a writer redoes
 *     the write of a crashed one, comes before the redo's own 2m); s1 < 2m
 *     is a broken writer. If s1 = 2m, the acquire load of sseq read write
 *     m's release store of 2m, so every slot store of write m happens
 *     before our copy.
 *   - No tearing: the slot is next written by write m+N, which first stores
 *     sseq = 2(m+N)-1 and then fences (release). If our copy read any store
 *     of write m+N (or later), that release fence synchronizes with our
 *     acquire fence (C11 7.17.4p2, fence-to-fence synchronization through
 *     the relaxed data store and load), so the store of 2(m+N)-1 happens
 *     before our s2 load, and by coherence s2 >= 2(m+N)-1 != s1: the copy
 *     is rejected.
 *   - Why a slot word, not the counter: the slot's word changes only when
 *     the slot is rewritten, every N writes, while the counter changes twice
 *     per write; a reader that validated against the counter would be
 *     lapped by a writer writing back to back almost every time.
 *
 * The payload is copied with relaxed atomic 8-byte loads, not memcpy. A
 * memcpy racing with the writer's stores is a data race, undefined
 * behaviour in C11; it works in practice (GCC and Clang emit no code that
 * depends on the absence of races in a memcpy, and the fence keeps it
 * between the loads of the sequence word), which is what the Go reader
 * relies on. The relaxed loads make this reader a data-race-free C11
 * program instead, and they cost nothing extra per word on the targets: on
 * x86-64 and AArch64 a relaxed aligned 8-byte load is an ordinary MOV /
 * LDR. What is lost is
 * memcpy's vector loads, which only matters for values of many kilobytes.
 * Whole words are loaded up to roundup(len, 8), which stays inside the slot
 * (its payload area is rounded up to 8 bytes); the destination gets exactly
 * len bytes (the last word is copied partially).
 *
 * What the compiler emits (GCC and Clang):
 *
 *   x86-64:  acquire load = MOV; relaxed load = MOV; acquire fence = nothing
 *            but a compiler barrier. x86-TSO never reorders a load with a
 *            later load, so c -> s1 -> copy -> s2 stay in order in hardware;
 *            the fence only stops the compiler from moving the copy's loads
 *            past the s2 load.
 *   AArch64: acquire loads = LDAR (later loads are not performed before
 *            them); relaxed loads = LDR; acquire fence = DMB ISHLD (earlier
 *            loads are complete before any later load), then LDR for s2.
 *            The DMB is required: LDAR alone does not keep earlier loads
 *            (the copy) before a later load.
 *
 * A segment is untrusted input: the header is validated against the size
 * of the mapping before anything else is read (seqshm_decode_header), the
 * schema area is copied out and decoded with the same checks as Go's
 * schema.UnmarshalBinary (seqshm_schema_decode), every offset used
 * afterwards comes from the validated copies, a slot's length bounds the
 * copy before it is trusted and is checked once the copy is known to be
 * consistent, and a hostile sequence word costs at most SEQSHM_MAX_LAPS
 * attempts.
 * Nothing a writer stores can make this reader read outside its mapping or
 * its buffers, loop forever or crash.
 */
#ifndef SEQSHM_H
#define SEQSHM_H

#if defined(_WIN32)
#define SEQSHM_WINDOWS 1
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN 1
#endif
#ifndef __USE_MINGW_ANSI_STDIO
#define __USE_MINGW_ANSI_STDIO 1 /* C99 printf: %zu, %llu */
#endif
#include <windows.h>
#else
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GLIBC__) && !defined(__USE_MISC)
#error "seqshm.h: include it before any system header, or compile with -D_GNU_SOURCE"
#endif
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "seqshm.h: only little-endian hosts are supported (the layout is little-endian)"
#endif
#if ATOMIC_LLONG_LOCK_FREE != 2
#error "seqshm.h: needs lock-free 8-byte atomics"
#endif
_Static_assert(sizeof(_Atomic uint64_t) == 8 && _Alignof(_Atomic uint64_t) == 8,
               "_Atomic uint64_t must be a plain aligned 8-byte word");
_Static_assert(sizeof(_Atomic uint32_t) == 4, "_Atomic uint32_t must be a plain 4-byte word");
_Static_assert(sizeof(void *) == 8, "seqshm.h: 64-bit hosts only");

#if defined(__MINGW32__)
#define SEQSHM__PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#else
#define SEQSHM__PRINTF(a, b) __attribute__((format(printf, a, b)))
#endif

/* ---- Layout version 2 (docs/layout.md) ---------------------------------- */

#define SEQSHM_LAYOUT_VERSION 2
#define SEQSHM_OFF_MAGIC 0
#define SEQSHM_OFF_VERSION 8
#define SEQSHM_OFF_HEADER_SIZE 16
#define SEQSHM_OFF_CAPACITY 24
#define SEQSHM_OFF_SLOT_SIZE 32
#define SEQSHM_OFF_SLOT0 40
#define SEQSHM_OFF_SLOT_COUNT 48 /* version 1 had the offset of slot 1 here */
#define SEQSHM_OFF_TOTAL_SIZE 56
#define SEQSHM_OFF_FINGERPRINT 64
#define SEQSHM_OFF_CREATED 72
#define SEQSHM_OFF_WRITER_STATE 80
#define SEQSHM_OFF_WRITER_PID 88
#define SEQSHM_OFF_WRITER_START 96
#define SEQSHM_OFF_NOTIFY 104
#define SEQSHM_OFF_FLAGS 112
#define SEQSHM_OFF_PID_NS 120
#define SEQSHM_OFF_COUNTER 128
#define SEQSHM_OFF_SEQ SEQSHM_OFF_COUNTER /* older name of the counter's offset */
#define SEQSHM_HEADER_SIZE 256             /* the fixed header; the schema area follows */
#define SEQSHM_MIN_SLOTS 2  /* slot_count: a power of two in [2, 64] */
#define SEQSHM_MAX_SLOTS 64
#define SEQSHM_SLOT_HEADER_SIZE 64 /* the payload starts 64 bytes into a slot; bytes 24..63 are reserved */
/* The slot's sequence word: 2n-1 while write n is in progress in the slot,
 * 2n once write n is complete in it, 0 if never written. */
#define SEQSHM_SLOT_OFF_SSEQ 0
#define SEQSHM_SLOT_OFF_LEN 8
#define SEQSHM_SLOT_OFF_TIME 16
#define SEQSHM_NOTIFY_SIZE 128
#define SEQSHM_MAX_CAPACITY (UINT64_C(1) << 40)
#define SEQSHM_MAGIC UINT64_C(0x00004d4853514553) /* "SEQSHM\0\0" read little-endian */
#define SEQSHM_FLAG_MEMBARRIER UINT64_C(1)
#define SEQSHM_FLAG_FENCED UINT64_C(2)
/* The waiter word (u32 at offset 0 of the waiter area) is an event count:
 * bit 0 "a waiter may be asleep", bits 1-31 the writer's wake epoch. */
#define SEQSHM_NOTIFY_OFF_WAITER 0
#define SEQSHM_WAITER_BIT UINT32_C(1)

/* Writer states (header offset 80). */
#define SEQSHM_STATE_INIT 0
#define SEQSHM_STATE_RUNNING 1
#define SEQSHM_STATE_CLOSED 2

/* The writer lock: an OFD write lock on [SEQSHM_LOCK_BASE, +1+pid). */
#define SEQSHM_LOCK_BASE (INT64_C(1) << 62)

/* Attempts of one seqshm_read before SEQSHM_E_LAPPED (as seqlock.maxLaps). */
#define SEQSHM_MAX_LAPS 1000
/* Longest single futex sleep in seqshm_wait (as seqlock.maxSleep). */
#define SEQSHM_MAX_SLEEP_NS INT64_C(100000000)
#define SEQSHM_MAX_NAME 200
/* The default limit of seqshm_read_value: 64 MiB, as seqlock.DefaultMaxValue. */
#define SEQSHM_DEFAULT_MAX_VALUE (UINT64_C(64) << 20)

/* ---- Schema format version 1 (docs/layout.md, "Schema area") ----------- */

#define SEQSHM_SCHEMA_MAGIC "SQSC"
#define SEQSHM_SCHEMA_VERSION 1
#define SEQSHM_SCHEMA_HEADER 16     /* bytes of the schema header */
#define SEQSHM_SCHEMA_BODY 8        /* bytes of a struct body before its fields */
#define SEQSHM_SCHEMA_RECORD 12     /* bytes of a field record before name and unit */
#define SEQSHM_SCHEMA_MAX_DEPTH 8   /* struct levels, the top one included */
#define SEQSHM_SCHEMA_MAX_FIELDS 1024
#define SEQSHM_SCHEMA_MAX_NAME 64
#define SEQSHM_SCHEMA_MAX_UNIT 64
#define SEQSHM_SCHEMA_MAX_SIZE (UINT32_C(1) << 30)      /* bytes of a struct value */
#define SEQSHM_SCHEMA_MAX_BINARY (UINT32_C(1) << 18)    /* bytes of an encoding */

/* Kinds of value. */
#define SEQSHM_KIND_BYTES 0
#define SEQSHM_KIND_TEXT 1
#define SEQSHM_KIND_JSON 2
#define SEQSHM_KIND_STRUCT 3

/* Field types (the type codes of the binary format). */
enum {
    SEQSHM_T_BOOL = 1,
    SEQSHM_T_INT8 = 2,
    SEQSHM_T_INT16 = 3,
    SEQSHM_T_INT32 = 4,
    SEQSHM_T_INT64 = 5,
    SEQSHM_T_UINT8 = 6,
    SEQSHM_T_UINT16 = 7,
    SEQSHM_T_UINT32 = 8,
    SEQSHM_T_UINT64 = 9,
    SEQSHM_T_FLOAT32 = 10,
    SEQSHM_T_FLOAT64 = 11,
    SEQSHM_T_CHAR = 12,
    SEQSHM_T_STRUCT = 13
};

/* ---- Errors -------------------------------------------------------------- */

enum {
    SEQSHM_OK = 0,
    SEQSHM_E_SYS = -1,       /* a system call failed; errno (Windows: GetLastError) in h->sys_errno */
    SEQSHM_E_NAME = -2,      /* not a valid segment name */
    SEQSHM_E_NOENT = -3,     /* no such segment */
    SEQSHM_E_NOTREG = -4,    /* the path is not a regular file (link, FIFO, dir...) */
    SEQSHM_E_NOTREADY = -5,  /* magic still zero, or the file still too small: a writer is creating it */
    SEQSHM_E_NOTSEQSHM = -6, /* bad magic */
    SEQSHM_E_VERSION = -7,   /* another layout version (1: written by an older seqshm; remove the segment) */
    SEQSHM_E_CORRUPT = -8,   /* header, schema area or slot inconsistent */
    SEQSHM_E_NOVALUE = -9,   /* no write has completed yet */
    SEQSHM_E_SHORTBUF = -10, /* buffer smaller than the value; meta->len says how large */
    SEQSHM_E_LAPPED = -11,   /* overtaken by the writer SEQSHM_MAX_LAPS times; read again */
    SEQSHM_E_TIMEOUT = -12,  /* seqshm_wait: nothing new before the timeout */
    SEQSHM_E_CLOSED = -13,   /* the handle is not open */
    SEQSHM_E_LIMIT = -14,    /* the value is larger than the reader's limit (seqshm_set_max_value) */
    SEQSHM_E_NOFIELD = -15,  /* no such field, or an index out of range */
    SEQSHM_E_TYPE = -16,     /* the field's type does not convert to the one asked for */
    SEQSHM_E_SHORTVAL = -17, /* the value is too short for the field */
    SEQSHM_E_SCHEMA = -18,   /* an invalid schema encoding (seqshm_schema_decode) */
    SEQSHM_E_NOMEM = -19,    /* out of memory */
    SEQSHM_E_UNSUPPORTED = -20 /* not available on this operating system */
};

/* seqshm_strerror returns a short lowercase description of an error code. */
static inline const char *seqshm_strerror(int code) {
    switch (code) {
    case SEQSHM_OK: return "success";
    case SEQSHM_E_SYS: return "system call failed";
    case SEQSHM_E_NAME: return "invalid segment name";
    case SEQSHM_E_NOENT: return "no such segment";
    case SEQSHM_E_NOTREG: return "not a segment (not a regular file)";
    case SEQSHM_E_NOTREADY: return "segment not initialised yet";
    case SEQSHM_E_NOTSEQSHM: return "not a seqshm segment";
    case SEQSHM_E_VERSION: return "unsupported layout version";
    case SEQSHM_E_CORRUPT: return "corrupt segment";
    case SEQSHM_E_NOVALUE: return "no value published yet";
    case SEQSHM_E_SHORTBUF: return "buffer too small for value";
    case SEQSHM_E_LAPPED: return "reader lapped by the writer too often";
    case SEQSHM_E_TIMEOUT: return "timed out";
    case SEQSHM_E_CLOSED: return "segment not open";
    case SEQSHM_E_LIMIT: return "value larger than the reader's limit";
    case SEQSHM_E_NOFIELD: return "no such field";
    case SEQSHM_E_TYPE: return "field of another type";
    case SEQSHM_E_SHORTVAL: return "value too short for the field";
    case SEQSHM_E_SCHEMA: return "invalid schema";
    case SEQSHM_E_NOMEM: return "out of memory";
    case SEQSHM_E_UNSUPPORTED: return "not supported on this system";
    }
    return "unknown error";
}

/* ---- Types ----------------------------------------------------------------- */

/* The validated geometry of a segment: decodeHeader's result. */
typedef struct seqshm_geometry {
    uint64_t header_size; /* bytes before slot 0: 256 + the schema area */
    uint64_t capacity;    /* as the header claims: up to 2^40; never size buffers from it */
    uint64_t slot_size;   /* bytes per slot: the 64-byte slot header and the payload area */
    uint64_t slot0;       /* offset of slot 0; slot i is at slot0 + i * slot_size */
    uint64_t slot_count;  /* N, a power of two in [2, 64]; write n goes into slot n & (N-1) */
    uint64_t total_size;
    uint64_t fingerprint;
    uint64_t notify; /* offset of the waiter area, 0 if none */
    uint64_t flags;  /* as at open; seqshm_wait reloads it */
} seqshm_geometry;

/* One field of a struct schema. The fields of a schema are kept in one
 * array in declaration order, depth first: a struct field is followed by
 * its own fields (and theirs), which have parent set to its index. */
typedef struct seqshm_field {
    char name[SEQSHM_SCHEMA_MAX_NAME + 1];
    char unit[SEQSHM_SCHEMA_MAX_UNIT + 1]; /* "" if none */
    uint8_t type;       /* SEQSHM_T_* */
    uint8_t align;      /* of one element: 1, 2, 4 or 8 */
    uint16_t depth;     /* 1 for a top-level field */
    uint32_t offset;    /* in the enclosing struct (its element 0) */
    uint32_t len;       /* 0: one element; N: an array of N; char: N of char[N] */
    uint32_t elem_size; /* bytes of one element (char[N]: N; struct: its size) */
    uint32_t size;      /* bytes of the whole field */
    int parent;         /* index of the enclosing struct field, -1 at the top */
    int nfields;        /* struct: its number of direct fields; else 0 */
} seqshm_field;

/* What a segment's values are: its decoded schema area. */
typedef struct seqshm_schema {
    int present;          /* 1 if the segment has a schema area starting "SQSC" */
    int kind;             /* SEQSHM_KIND_*; BYTES without a schema */
    uint32_t length;      /* bytes of the encoding, 0 without a schema */
    uint32_t value_size;  /* struct: the size of a value; else 0 */
    uint32_t align;       /* struct: its alignment; else 1 */
    uint64_t fingerprint; /* FNV-1a 64 of the encoding (1 if that is 0); 0 without a schema */
    int nfields;          /* fields, nested ones included */
    seqshm_field *fields; /* malloc'd, nfields entries; NULL if none */
} seqshm_schema;

/* A value and the schema that describes it, for the typed getters. */
typedef struct seqshm_value {
    const seqshm_schema *schema;
    const void *data;
    size_t len;
} seqshm_value;

/* A field found by seqshm_field_lookup. */
typedef struct seqshm_ref {
    const seqshm_field *field;
    uint64_t offset; /* of the field's element 0 (indexed path: of that element) in the value */
    uint32_t count;  /* elements from offset on: the array's length, else 1 (char[N], one element) */
} seqshm_ref;

/* A value's description, from seqshm_read. */
typedef struct seqshm_meta {
    uint64_t seq;     /* write number: 1 for the first write, +1 per write (the counter / 2) */
    uint64_t len;     /* length in bytes (with SEQSHM_E_SHORTBUF or _LIMIT: the value's length) */
    int64_t unix_ns;  /* publish time, Unix ns; 0 = not stamped */
} seqshm_meta;

/* A snapshot of the header's mutable fields and the writer lock. */
typedef struct seqshm_info {
    seqshm_geometry g;
    uint64_t map_size;       /* bytes mapped (the file size) */
    uint64_t seq;            /* newest complete write number, 0 if none */
    uint64_t counter;        /* the raw counter (odd: a write is in progress) */
    uint64_t state;          /* SEQSHM_STATE_* as stored (other values: corrupt) */
    uint64_t writer_pid;     /* pid of the last writer to open the segment, in its PID namespace */
    uint64_t writer_pid_ns;  /* that writer's PID namespace (inode of /proc/self/ns/pid), 0 if unknown */
    uint64_t own_pid_ns;     /* this process's PID namespace, 0 if unknown */
    int pid_foreign;         /* 1: writer_pid is in another PID namespace (meaningless here) */
    int64_t created_ns;      /* creation time, Unix ns */
    int64_t writer_start_ns; /* when that writer opened it, Unix ns */
    int lock_held;           /* 1: a writer holds the lock, 0: free, -1: unknown */
    int64_t lock_pid;        /* the lock holder's pid from the probe, 0 if unknown */
} seqshm_info;

/* An open segment. Zero it or let seqshm_open fill it. */
typedef struct seqshm {
    const unsigned char *base; /* read-only mapping of the whole segment */
    size_t map_size;
    int fd;                    /* read-only descriptor, kept for the lock probe; -1 on Windows */
    int sys_errno;             /* errno (Windows: GetLastError()) of the last SEQSHM_E_SYS */
    seqshm_geometry g;
    seqshm_schema schema;      /* decoded at open */
    uint64_t max_value;        /* limit of seqshm_read_value; 0 = SEQSHM_DEFAULT_MAX_VALUE */
    _Atomic uint32_t *waiters; /* writable view of the waiter word, or NULL */
    void *waiter_map;
    size_t waiter_map_len;
#ifdef SEQSHM_WINDOWS
    HANDLE mapping;
#endif
    char path[4096];           /* the file; Windows without a file: the mapping's name */
    char detail[256];          /* detail of the last error, "" if none */
} seqshm;

/* ---- Internals ---------------------------------------------------------- */

/* seqshm__fail records an error's detail (and errno for SEQSHM_E_SYS). */
static inline SEQSHM__PRINTF(3, 4) int seqshm__fail(seqshm *h, int code, const char *fmt, ...) {
    if (code == SEQSHM_E_SYS) {
#ifdef SEQSHM_WINDOWS
        h->sys_errno = (int)GetLastError();
#else
        h->sys_errno = errno;
#endif
    }
    h->detail[0] = 0;
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(h->detail, sizeof h->detail, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The 8-byte word at base+off as an atomic. The caller has validated that
 * off+8 <= mapping size and off % 8 == 0 (the mapping is page aligned). */
static inline const _Atomic uint64_t *seqshm__w64(const unsigned char *base, uint64_t off) {
    return (const _Atomic uint64_t *)(const void *)(base + off);
}

/* A relaxed load of a header field or slot word. Header fields other than
 * the magic, state, pid, pid namespace, start and flags never change after
 * the magic is set; relaxed atomic loads keep even a hostile concurrent
 * writer from being a data race. */
static inline uint64_t seqshm__load(const unsigned char *base, uint64_t off) {
    return atomic_load_explicit(seqshm__w64(base, off), memory_order_relaxed);
}

static inline int seqshm__overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
    return a < b + bn && b < a + an;
}

static inline uint16_t seqshm__le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t seqshm__le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- Names -------------------------------------------------------------- */

/* seqshm_valid_name reports whether name is 1-200 chars of [A-Za-z0-9._-]
 * not starting with '.', the only names a segment may have. */
static inline int seqshm_valid_name(const char *name) {
    size_t n = 0;
    if (name == NULL || name[0] == 0 || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n <= SEQSHM_MAX_NAME;
}

/* seqshm_dir returns the directory holding segment files: $SEQSHM_DIR,
 * else /dev/shm (Windows: %LOCALAPPDATA%\seqshm, "" if LOCALAPPDATA is
 * unset; the string then lives in a thread-local buffer until the next
 * call). */
static inline const char *seqshm_dir(void) {
    const char *d = getenv("SEQSHM_DIR");
    if (d != NULL && d[0] != 0)
        return d;
#ifdef SEQSHM_WINDOWS
    static _Thread_local char def[MAX_PATH];
    const char *local = getenv("LOCALAPPDATA");
    if (local == NULL || local[0] == 0)
        return "";
    snprintf(def, sizeof def, "%s\\seqshm", local);
    return def;
#else
    return "/dev/shm";
#endif
}

#ifdef SEQSHM_WINDOWS
/* The prefix of a running publisher's named mapping: Local\seqshm.NAME. */
#define SEQSHM_WIN_MAPPING_PREFIX "Local\\seqshm."
#endif

/* ---- Validating the header ---------------------------------------------- */

/* seqshm_decode_header validates the header at base against the real size
 * of the mapping, exactly as seqlock.decodeHeader (plus its callers' size
 * and magic checks), and fills *g. It reads nothing outside [base,
 * base+size) and writes a description of any problem to detail. base must
 * be 8-byte aligned. */
static inline int seqshm_decode_header(const unsigned char *base, size_t size, seqshm_geometry *g,
                                       char *detail, size_t detail_len) {
#define SEQSHM__BAD(code, ...) \
    do { \
        if (detail_len > 0) snprintf(detail, detail_len, __VA_ARGS__); \
        return (code); \
    } while (0)
    if (detail_len > 0)
        detail[0] = 0;
    memset(g, 0, sizeof *g);
    if (size < SEQSHM_HEADER_SIZE)
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "region of %zu bytes is smaller than the %d-byte header", size,
                    SEQSHM_HEADER_SIZE);
    /* Acquire: every header field the writer stored before the magic is
     * visible once the magic is (the writer's magic store is a release). */
    uint64_t m = atomic_load_explicit(seqshm__w64(base, SEQSHM_OFF_MAGIC), memory_order_acquire);
    if (m == 0)
        SEQSHM__BAD(SEQSHM_E_NOTREADY, "magic is zero");
    if (m != SEQSHM_MAGIC) {
        char q[40];
        size_t j = 0;
        for (int i = 0; i < 8; i++) {
            unsigned c = (unsigned)(m >> (8 * i)) & 0xff;
            j += (size_t)snprintf(q + j, sizeof q - j, (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? "%c" : "\\x%02x", c);
        }
        SEQSHM__BAD(SEQSHM_E_NOTSEQSHM, "bad magic \"%s\"", q);
    }
    uint64_t v = seqshm__load(base, SEQSHM_OFF_VERSION);
    if (v == 1)
        SEQSHM__BAD(SEQSHM_E_VERSION,
                    "layout version 1, written by an older seqshm; this one reads version %d only: remove the "
                    "segment and let the writer re-create it",
                    SEQSHM_LAYOUT_VERSION);
    if (v != SEQSHM_LAYOUT_VERSION)
        SEQSHM__BAD(SEQSHM_E_VERSION, "layout version %llu, this reader knows %d", (unsigned long long)v,
                    SEQSHM_LAYOUT_VERSION);
    uint64_t sz = size;
    uint64_t hs = seqshm__load(base, SEQSHM_OFF_HEADER_SIZE);
    uint64_t cap = seqshm__load(base, SEQSHM_OFF_CAPACITY);
    uint64_t ss = seqshm__load(base, SEQSHM_OFF_SLOT_SIZE);
    uint64_t s0 = seqshm__load(base, SEQSHM_OFF_SLOT0);
    uint64_t n = seqshm__load(base, SEQSHM_OFF_SLOT_COUNT);
    uint64_t total = seqshm__load(base, SEQSHM_OFF_TOTAL_SIZE);
    uint64_t nt = seqshm__load(base, SEQSHM_OFF_NOTIFY);
    /* The order of the checks matters: each one bounds the values the next
     * one does arithmetic on, so no sum or product below can overflow (all
     * values are at most the mapping size, the capacity at most 2^40, the
     * slot count at most 64). */
    if (hs < SEQSHM_HEADER_SIZE || hs > sz)
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "header size %llu outside [%d, %llu]", (unsigned long long)hs,
                    SEQSHM_HEADER_SIZE, (unsigned long long)sz);
    if (total > sz)
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "header says %llu bytes, region has %llu (truncated?)",
                    (unsigned long long)total, (unsigned long long)sz);
    if (cap < 1 || cap > SEQSHM_MAX_CAPACITY)
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "capacity %llu", (unsigned long long)cap);
    if (ss < SEQSHM_SLOT_HEADER_SIZE + cap || ss > total || ss % 8 != 0)
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "slot size %llu for capacity %llu", (unsigned long long)ss,
                    (unsigned long long)cap);
    if (n < SEQSHM_MIN_SLOTS || n > SEQSHM_MAX_SLOTS || (n & (n - 1)) != 0)
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "slot count %llu, not a power of two in [%d, %d]",
                    (unsigned long long)n, SEQSHM_MIN_SLOTS, SEQSHM_MAX_SLOTS);
    /* (total - s0) / n < ss is total - s0 < n * ss without a product. */
    if (s0 < hs || s0 % 8 != 0 || s0 > total || (total - s0) / n < ss)
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "%llu slots of %llu bytes at %llu outside the %llu-byte segment",
                    (unsigned long long)n, (unsigned long long)ss, (unsigned long long)s0,
                    (unsigned long long)total);
    if (nt != 0 && (nt % 8 != 0 || nt < hs || nt > total || total - nt < SEQSHM_NOTIFY_SIZE ||
                    seqshm__overlap(nt, SEQSHM_NOTIFY_SIZE, s0, n * ss)))
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "waiter area at %llu", (unsigned long long)nt);
    g->header_size = hs;
    g->capacity = cap;
    g->slot_size = ss;
    g->slot0 = s0;
    g->slot_count = n;
    g->total_size = total;
    g->fingerprint = seqshm__load(base, SEQSHM_OFF_FINGERPRINT);
    g->notify = nt;
    g->flags = seqshm__load(base, SEQSHM_OFF_FLAGS);
    return SEQSHM_OK;
#undef SEQSHM__BAD
}

/* ---- Schemas -------------------------------------------------------------- */

/* seqshm_schema_free releases what seqshm_schema_decode allocated. */
static inline void seqshm_schema_free(seqshm_schema *s) {
    free(s->fields);
    memset(s, 0, sizeof *s);
    s->align = 1;
}

/* seqshm_type_name names a field type as the schema text form does. */
static inline const char *seqshm_type_name(int t) {
    static const char *const names[] = {"?",      "bool",   "int8",    "int16",   "int32", "int64",  "uint8",
                                        "uint16", "uint32", "uint64", "float32", "float64", "char", "struct"};
    return t >= 1 && t <= SEQSHM_T_STRUCT ? names[t] : "?";
}

/* seqshm_kind_name names a kind: "bytes", "text", "json" or "struct". */
static inline const char *seqshm_kind_name(int k) {
    static const char *const names[] = {"bytes", "text", "json", "struct"};
    return k >= 0 && k <= SEQSHM_KIND_STRUCT ? names[k] : "?";
}

/* seqshm_type_size is the size of one element of a number or bool type, 0
 * for char, struct and unknown types. */
static inline uint32_t seqshm_type_size(int t) {
    static const uint8_t sizes[] = {0, 1, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 0, 0};
    return t >= 0 && t <= SEQSHM_T_STRUCT ? sizes[t] : 0;
}

/* seqshm_fnv1a64 is the schema fingerprint: FNV-1a 64 of the encoding, 1 if 0. */
static inline uint64_t seqshm_fnv1a64(const unsigned char *p, size_t n) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h == 0 ? 1 : h;
}

/* seqshm__utf8_next decodes the UTF-8 sequence at p[i] (i < n) into *cp and
 * returns its length, or 0 if it is not valid UTF-8: a bad lead or
 * continuation byte, a truncated, overlong or surrogate sequence, or a code
 * point above U+10FFFF. */
static inline size_t seqshm__utf8_next(const unsigned char *p, size_t n, size_t i, uint32_t *cp) {
    unsigned c = p[i];
    size_t k;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0)
        k = 1, *cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        k = 2, *cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        k = 3, *cp = c & 0x07;
    else
        return 0;
    if (n - i <= k)
        return 0;
    for (size_t j = 1; j <= k; j++) {
        if ((p[i + j] & 0xc0) != 0x80)
            return 0;
        *cp = *cp << 6 | (p[i + j] & 0x3f);
    }
    if ((k == 1 && *cp < 0x80) || (k == 2 && *cp < 0x800) || (k == 3 && *cp < 0x10000) || *cp > 0x10ffff ||
        (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return k + 1;
}

/* seqshm__unit_ok checks a unit: printable UTF-8 without [ ] { } ; , # " \
 * and without leading or trailing spaces. Go checks printability with
 * unicode.IsPrint; this check refuses the same ASCII, invalid UTF-8, the C1
 * controls and the Unicode spaces, format and private-use characters, but
 * accepts unassigned code points (a unit changes no value or offset). */
static inline int seqshm__unit_ok(const unsigned char *u, size_t n) {
    if (n == 0)
        return 1;
    if (u[0] == ' ' || u[n - 1] == ' ')
        return 0;
    for (size_t i = 0, k; i < n; i += k) {
        uint32_t cp;
        k = seqshm__utf8_next(u, n, i, &cp);
        if (k == 0)
            return 0;
        if (cp < 0x80) {
            if (cp < 0x20 || cp == 0x7f || strchr("[]{};,#\"\\", (int)cp) != NULL)
                return 0;
        } else if (cp <= 0xa0 || cp == 0xad || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200f) ||
                   (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 ||
                   cp == 0xfeff || (cp >= 0xe000 && cp <= 0xf8ff) || (cp >= 0xfff9 && cp <= 0xfffb) ||
                   cp >= 0xf0000) {
            return 0;
        }
    }
    return 1;
}

static inline int seqshm__name_ok(const unsigned char *s, size_t n) {
    if (n < 1 || n > SEQSHM_SCHEMA_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* The state of one decode: the encoding, the read position, the output. */
typedef struct seqshm__sdec {
    const unsigned char *b;
    size_t n, pos;
    seqshm_schema *s;
    char *detail;
    size_t detail_len;
} seqshm__sdec;

static inline SEQSHM__PRINTF(2, 3) int seqshm__sbad(seqshm__sdec *d, const char *fmt, ...) {
    if (d->detail_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->detail, d->detail_len, fmt, ap);
        va_end(ap);
    }
    return SEQSHM_E_SCHEMA;
}

/* seqshm__snode decodes and checks the struct body at d->pos, whose fields
 * get parent as their parent, at nesting level depth; it returns the
 * struct's size and alignment as laid out by C rules, after checking that
 * the recorded ones equal them. */
static inline int seqshm__snode(seqshm__sdec *d, int depth, int parent, uint32_t *size_out, uint32_t *align_out) {
    if (depth > SEQSHM_SCHEMA_MAX_DEPTH)
        return seqshm__sbad(d, "structs nested deeper than %d levels", SEQSHM_SCHEMA_MAX_DEPTH);
    if (d->n - d->pos < SEQSHM_SCHEMA_BODY)
        return seqshm__sbad(d, "truncated at byte %zu: struct header needs %d bytes, %zu left", d->pos,
                            SEQSHM_SCHEMA_BODY, d->n - d->pos);
    const unsigned char *b = d->b + d->pos;
    uint32_t count = seqshm__le16(b), rec_align = b[2], rec_size = seqshm__le32(b + 4);
    if (b[3] != 0)
        return seqshm__sbad(d, "byte %zu: reserved byte is not zero", d->pos + 3);
    if (count == 0)
        return seqshm__sbad(d, "byte %zu: struct has no fields", d->pos);
    if ((uint64_t)d->s->nfields + count > SEQSHM_SCHEMA_MAX_FIELDS)
        return seqshm__sbad(d, "more than %d fields", SEQSHM_SCHEMA_MAX_FIELDS);
    d->pos += SEQSHM_SCHEMA_BODY;
    if ((d->n - d->pos) / SEQSHM_SCHEMA_RECORD < count)
        return seqshm__sbad(d, "truncated at byte %zu: %u fields need %u bytes, %zu left", d->pos, count,
                            count * SEQSHM_SCHEMA_RECORD, d->n - d->pos);
    if (parent >= 0)
        d->s->fields[parent].nfields = (int)count;
    uint64_t off = 0, align = 1;
    int first = d->s->nfields; /* index of this struct's first field */
    for (uint32_t i = 0; i < count; i++) {
        if (d->n - d->pos < SEQSHM_SCHEMA_RECORD)
            return seqshm__sbad(d, "truncated at byte %zu: field record needs %d bytes", d->pos, SEQSHM_SCHEMA_RECORD);
        size_t at = d->pos;
        b = d->b + at;
        unsigned typ = b[0], name_len = b[1], unit_len = b[2];
        uint32_t rec_off = seqshm__le32(b + 4), n = seqshm__le32(b + 8);
        if (typ < SEQSHM_T_BOOL || typ > SEQSHM_T_STRUCT)
            return seqshm__sbad(d, "byte %zu: unknown type code %u", at, typ);
        if (b[3] != 0)
            return seqshm__sbad(d, "byte %zu: reserved byte is not zero", at + 3);
        if (name_len > SEQSHM_SCHEMA_MAX_NAME || unit_len > SEQSHM_SCHEMA_MAX_UNIT)
            return seqshm__sbad(d, "byte %zu: name or unit longer than %d bytes", at, SEQSHM_SCHEMA_MAX_NAME);
        if (rec_off > SEQSHM_SCHEMA_MAX_SIZE || n > SEQSHM_SCHEMA_MAX_SIZE)
            return seqshm__sbad(d, "byte %zu: offset %u or length %u out of range", at, rec_off, n);
        d->pos += SEQSHM_SCHEMA_RECORD;
        if (d->n - d->pos < (size_t)name_len + unit_len)
            return seqshm__sbad(d, "truncated at byte %zu: name and unit need %u bytes, %zu left", d->pos,
                                name_len + unit_len, d->n - d->pos);
        const unsigned char *name = d->b + d->pos, *unit = name + name_len;
        d->pos += (size_t)name_len + unit_len;
        if (!seqshm__name_ok(name, name_len))
            return seqshm__sbad(d, "byte %zu: invalid field name: want [A-Za-z_][A-Za-z0-9_]*, 1 to %d bytes", at,
                                SEQSHM_SCHEMA_MAX_NAME);
        if (!seqshm__unit_ok(unit, unit_len))
            return seqshm__sbad(d, "byte %zu: invalid unit", at);
        int idx = d->s->nfields++;
        seqshm_field *f = &d->s->fields[idx];
        memset(f, 0, sizeof *f);
        memcpy(f->name, name, name_len);
        memcpy(f->unit, unit, unit_len);
        f->type = (uint8_t)typ;
        f->depth = (uint16_t)depth;
        f->len = n;
        f->parent = parent;
        for (int j = first; j < idx; j++) /* duplicate names within this struct */
            if (d->s->fields[j].parent == parent && strcmp(d->s->fields[j].name, f->name) == 0)
                return seqshm__sbad(d, "field %s: duplicate name", f->name);
        uint64_t esize, ealign;
        if (typ == SEQSHM_T_CHAR) {
            if (n < 1)
                return seqshm__sbad(d, "field %s: char needs a length: char[N]", f->name);
            esize = n, ealign = 1;
        } else if (typ == SEQSHM_T_STRUCT) {
            uint32_t ssize, salign;
            int rc = seqshm__snode(d, depth + 1, idx, &ssize, &salign);
            if (rc != SEQSHM_OK)
                return rc;
            f = &d->s->fields[idx];
            esize = ssize, ealign = salign;
        } else {
            esize = ealign = seqshm_type_size((int)typ);
        }
        uint64_t size = esize;
        if (n > 0 && typ != SEQSHM_T_CHAR)
            size = esize * n; /* <= 2^30 * 2^30: no overflow */
        off = (off + ealign - 1) / ealign * ealign;
        if (size > SEQSHM_SCHEMA_MAX_SIZE || off + size > SEQSHM_SCHEMA_MAX_SIZE)
            return seqshm__sbad(d, "field %s: struct larger than %u bytes", f->name, SEQSHM_SCHEMA_MAX_SIZE);
        if (rec_off != off)
            return seqshm__sbad(d, "field %s: offset %u recorded, C layout gives %llu", f->name, rec_off,
                                (unsigned long long)off);
        f->offset = (uint32_t)off;
        f->elem_size = (uint32_t)esize;
        f->size = (uint32_t)size;
        f->align = (uint8_t)ealign;
        off += size;
        if (ealign > align)
            align = ealign;
    }
    uint64_t size = (off + align - 1) / align * align;
    if (size > SEQSHM_SCHEMA_MAX_SIZE)
        return seqshm__sbad(d, "struct larger than %u bytes", SEQSHM_SCHEMA_MAX_SIZE);
    if (rec_size != size || rec_align != align)
        return seqshm__sbad(d, "%s%ssize %u and alignment %u recorded, C layout gives %llu and %llu",
                            parent >= 0 ? d->s->fields[parent].name : "", parent >= 0 ? ": " : "", rec_size,
                            rec_align, (unsigned long long)size, (unsigned long long)align);
    *size_out = (uint32_t)size;
    *align_out = (uint32_t)align;
    return SEQSHM_OK;
}

/* seqshm_schema_decode decodes the schema area `area` (n bytes: everything
 * from offset 256 to the header size, or a bare encoding). Without the
 * magic "SQSC" there is no schema: *s says bytes and SEQSHM_OK. Otherwise
 * it accepts only the canonical encoding of a valid schema, with the checks
 * of Go's schema.BinarySize and schema.UnmarshalBinary: the length within
 * the area and at most 2^18, known version, kind and types, zero reserved
 * bytes, valid and unique names, valid units, at most 8 struct levels and
 * 1024 fields, every recorded offset, size and alignment equal to the C
 * layout, no bytes after the last field. It reads nothing outside
 * [area, area + n), treats area as private memory (copy a shared one
 * first), allocates at most 1024 fields, and returns SEQSHM_OK or
 * SEQSHM_E_SCHEMA / SEQSHM_E_NOMEM with a description in detail. */
static inline int seqshm_schema_decode(const unsigned char *area, size_t n, seqshm_schema *s, char *detail,
                                       size_t detail_len) {
    memset(s, 0, sizeof *s);
    s->align = 1;
    if (detail_len > 0)
        detail[0] = 0;
    if (n < 4 || memcmp(area, SEQSHM_SCHEMA_MAGIC, 4) != 0)
        return SEQSHM_OK; /* no schema: bytes */
    seqshm__sdec d = {area, n, 0, s, detail, detail_len};
    if (n < SEQSHM_SCHEMA_HEADER)
        return seqshm__sbad(&d, "%zu bytes, shorter than the %d-byte header", n, SEQSHM_SCHEMA_HEADER);
    if (area[4] != SEQSHM_SCHEMA_VERSION)
        return seqshm__sbad(&d, "version %u, want %d", area[4], SEQSHM_SCHEMA_VERSION);
    uint32_t len = seqshm__le32(area + 8);
    if (len < SEQSHM_SCHEMA_HEADER || len > SEQSHM_SCHEMA_MAX_BINARY)
        return seqshm__sbad(&d, "length %u out of range %d..%u", len, SEQSHM_SCHEMA_HEADER, SEQSHM_SCHEMA_MAX_BINARY);
    if (len > n)
        return seqshm__sbad(&d, "schema of %u bytes larger than its area of %zu bytes", len, n);
    d.n = len;
    unsigned kind = area[5];
    if (kind > SEQSHM_KIND_STRUCT)
        return seqshm__sbad(&d, "unknown kind %u", kind);
    if (area[6] != 0 || area[7] != 0)
        return seqshm__sbad(&d, "reserved header bytes 6..7 are not zero");
    uint32_t value_size = seqshm__le32(area + 12);
    if (kind != SEQSHM_KIND_STRUCT) {
        if (len != SEQSHM_SCHEMA_HEADER || value_size != 0)
            return seqshm__sbad(&d, "a %s schema has no fields and value size 0", seqshm_kind_name((int)kind));
    } else {
        s->fields = (seqshm_field *)calloc(SEQSHM_SCHEMA_MAX_FIELDS, sizeof *s->fields);
        if (s->fields == NULL) {
            if (detail_len > 0)
                snprintf(detail, detail_len, "schema fields");
            return SEQSHM_E_NOMEM;
        }
        d.pos = SEQSHM_SCHEMA_HEADER;
        uint32_t size, align;
        int rc = seqshm__snode(&d, 1, -1, &size, &align);
        if (rc == SEQSHM_OK && d.pos != len)
            rc = seqshm__sbad(&d, "%zu bytes after the last field", len - d.pos);
        if (rc == SEQSHM_OK && size != value_size)
            rc = seqshm__sbad(&d, "header value size %u, struct size %u", value_size, size);
        if (rc != SEQSHM_OK) {
            seqshm_schema_free(s);
            return rc;
        }
        s->value_size = size;
        s->align = align;
    }
    s->present = 1;
    s->kind = (int)kind;
    s->length = len;
    s->fingerprint = seqshm_fnv1a64(area, len);
    return SEQSHM_OK;
}

/* seqshm__copy copies n bytes at src (8-byte aligned, with roundup(n, 8)
 * bytes readable: true of a slot's payload, as the slot size is a multiple
 * of 8, and of the schema area, as slot 0 follows it at an 8-byte
 * boundary) from the shared mapping to dst, one relaxed atomic word at a
 * time. dst gets exactly n bytes: the last word is copied partially. */
static inline void seqshm__copy(unsigned char *dst, const unsigned char *src, uint64_t n) {
    const _Atomic uint64_t *w = (const _Atomic uint64_t *)(const void *)src;
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = atomic_load_explicit(&w[i / 8], memory_order_relaxed);
        memcpy(dst + i, &x, 8);
    }
    if (i < n) {
        uint64_t x = atomic_load_explicit(&w[i / 8], memory_order_relaxed);
        memcpy(dst + i, &x, (size_t)(n - i));
    }
}

/* seqshm_decode_schema_area decodes the schema area of a validated segment
 * (base, with geometry g) into *s, and checks it against the header as the
 * Go reader does: a struct schema's value size must equal the capacity and
 * its fingerprint the header's. Returns SEQSHM_OK, SEQSHM_E_CORRUPT (a
 * description in detail) or SEQSHM_E_NOMEM. */
static inline int seqshm_decode_schema_area(const unsigned char *base, const seqshm_geometry *g, seqshm_schema *s,
                                            char *detail, size_t detail_len) {
    memset(s, 0, sizeof *s);
    s->align = 1;
    if (detail_len > 0)
        detail[0] = 0;
    if (g->header_size <= SEQSHM_HEADER_SIZE)
        return SEQSHM_OK;
    uint64_t n = g->header_size - SEQSHM_HEADER_SIZE;
    if (n > SEQSHM_SCHEMA_MAX_BINARY)
        n = SEQSHM_SCHEMA_MAX_BINARY; /* a longer schema is refused anyway */
    unsigned char *b = (unsigned char *)malloc((size_t)n);
    if (b == NULL)
        return SEQSHM_E_NOMEM;
    /* A private copy: a writer changing the area meanwhile cannot make the
     * decoder see two versions of a byte. */
    seqshm__copy(b, base + SEQSHM_HEADER_SIZE, n);
    char d[200];
    int rc = seqshm_schema_decode(b, (size_t)n, s, d, sizeof d);
    free(b);
    if (rc == SEQSHM_E_SCHEMA) {
        if (detail_len > 0)
            snprintf(detail, detail_len, "schema area: %s", d);
        return SEQSHM_E_CORRUPT;
    }
    if (rc != SEQSHM_OK)
        return rc;
    if (s->kind == SEQSHM_KIND_STRUCT && (s->value_size != g->capacity || s->fingerprint != g->fingerprint)) {
        if (detail_len > 0)
            snprintf(detail, detail_len,
                     "schema area: struct schema of %u bytes (fingerprint %#llx) in a segment of capacity %llu "
                     "(fingerprint %#llx)",
                     s->value_size, (unsigned long long)s->fingerprint, (unsigned long long)g->capacity,
                     (unsigned long long)g->fingerprint);
        seqshm_schema_free(s);
        return SEQSHM_E_CORRUPT;
    }
    return SEQSHM_OK;
}

/* seqshm_subtree_end returns the index after the fields nested in field i
 * of s (i + 1 unless field i is a struct): they follow it, depth first. */
static inline int seqshm_subtree_end(const seqshm_schema *s, int i) {
    int j = i + 1;
    while (j < s->nfields && s->fields[j].depth > s->fields[i].depth)
        j++;
    return j;
}

/* seqshm_field_lookup finds a field of a struct schema by path: names
 * joined by '.', each but the last optionally indexed as in "pts[2].x" (an
 * element of an array of structs), the last optionally indexed too
 * ("cov[4]": then ref->offset is that element's, ref->count 1). Returns SEQSHM_OK,
 * SEQSHM_E_NOFIELD (no such field, an index out of range, or a schema that
 * is not a struct) or SEQSHM_E_TYPE (a '.' after a field that is not a
 * struct). */
static inline int seqshm_field_lookup(const seqshm_schema *s, const char *path, seqshm_ref *ref) {
    ref->field = NULL;
    ref->offset = 0;
    ref->count = 0;
    if (s == NULL || s->kind != SEQSHM_KIND_STRUCT || s->fields == NULL || path == NULL)
        return SEQSHM_E_NOFIELD;
    int parent = -1, lo = 0, hi = s->nfields; /* search fields[lo, hi) with this parent */
    uint64_t base = 0;
    const char *p = path;
    for (;;) {
        size_t n = strcspn(p, ".[");
        if (n == 0 || n > SEQSHM_SCHEMA_MAX_NAME)
            return SEQSHM_E_NOFIELD;
        int found = -1;
        for (int i = lo; i < hi; i++) {
            const seqshm_field *f = &s->fields[i];
            if (f->parent == parent && strncmp(f->name, p, n) == 0 && f->name[n] == 0) {
                found = i;
                break;
            }
        }
        if (found < 0)
            return SEQSHM_E_NOFIELD;
        const seqshm_field *f = &s->fields[found];
        base += f->offset;
        p += n;
        uint32_t count = f->len == 0 || f->type == SEQSHM_T_CHAR ? 1 : f->len;
        if (*p == '[') {
            char *end;
            errno = 0;
            unsigned long long idx = strtoull(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || errno != 0 || f->type == SEQSHM_T_CHAR || f->len == 0 ||
                idx >= f->len || p[1] == '-' || p[1] == '+' || p[1] == ' ')
                return SEQSHM_E_NOFIELD;
            base += idx * f->elem_size;
            count = 1;
            p = end + 1;
        }
        if (*p == 0) {
            ref->field = f;
            ref->offset = base;
            ref->count = count;
            return SEQSHM_OK;
        }
        if (*p != '.')
            return SEQSHM_E_NOFIELD;
        if (f->type != SEQSHM_T_STRUCT)
            return SEQSHM_E_TYPE;
        p++;
        parent = found;
        lo = found + 1;
        hi = seqshm_subtree_end(s, found);
    }
}

/* seqshm__elem finds element index of the field at path in v and checks it
 * lies inside the value: *p points at its bytes. An indexed path ("cov[4]")
 * takes index 0 only. */
static inline int seqshm__elem(const seqshm_value *v, const char *path, uint32_t index, const seqshm_field **fp,
                               const unsigned char **p) {
    seqshm_ref r;
    int rc = seqshm_field_lookup(v->schema, path, &r);
    if (rc != SEQSHM_OK)
        return rc;
    if (index >= r.count)
        return SEQSHM_E_NOFIELD;
    const seqshm_field *f = r.field;
    uint64_t off = r.offset + (uint64_t)index * f->elem_size;
    if (v->data == NULL || off > v->len || v->len - off < f->elem_size)
        return SEQSHM_E_SHORTVAL;
    *fp = f;
    *p = (const unsigned char *)v->data + off;
    return SEQSHM_OK;
}

/* seqshm__number finds element index of the number or bool field at path
 * in v and loads it: *t is the field's type; an integer or bool goes to *u
 * (a signed one sign-extended), a float to *d. Returns 0 (an integer), 1 (a
 * float), or a (negative) error: SEQSHM_E_TYPE for char and struct. */
static inline int seqshm__number(const seqshm_value *v, const char *path, uint32_t index, int *t, uint64_t *u,
                                 double *d) {
    const seqshm_field *f;
    const unsigned char *p;
    int rc = seqshm__elem(v, path, index, &f, &p);
    if (rc != SEQSHM_OK)
        return rc;
    uint8_t b1;
    uint16_t b2;
    uint32_t b4;
    float f4;
    *t = f->type;
    *u = 0;
    *d = 0;
    switch (f->type) {
    case SEQSHM_T_BOOL: *u = p[0] != 0; return 0;
    case SEQSHM_T_INT8: memcpy(&b1, p, 1); *u = (uint64_t)(int64_t)(int8_t)b1; return 0;
    case SEQSHM_T_INT16: memcpy(&b2, p, 2); *u = (uint64_t)(int64_t)(int16_t)b2; return 0;
    case SEQSHM_T_INT32: memcpy(&b4, p, 4); *u = (uint64_t)(int64_t)(int32_t)b4; return 0;
    case SEQSHM_T_UINT8: *u = p[0]; return 0;
    case SEQSHM_T_UINT16: memcpy(&b2, p, 2); *u = b2; return 0;
    case SEQSHM_T_UINT32: memcpy(&b4, p, 4); *u = b4; return 0;
    case SEQSHM_T_INT64:
    case SEQSHM_T_UINT64: memcpy(u, p, 8); return 0;
    case SEQSHM_T_FLOAT32: memcpy(&f4, p, 4); *d = (double)f4; return 1;
    case SEQSHM_T_FLOAT64: memcpy(d, p, 8); return 1;
    }
    return SEQSHM_E_TYPE;
}

static inline int seqshm__signed(int t) { return t >= SEQSHM_T_INT8 && t <= SEQSHM_T_INT64; }

/* seqshm_get_f64 stores element index (0 for a single field) of the number
 * or bool field at path as a double (int64 and uint64 beyond 2^53 round).
 * Returns SEQSHM_OK, SEQSHM_E_NOFIELD, SEQSHM_E_TYPE (char or struct) or
 * SEQSHM_E_SHORTVAL (the value is shorter than the schema says). */
static inline int seqshm_get_f64(const seqshm_value *v, const char *path, uint32_t index, double *out) {
    int t;
    uint64_t u;
    double d;
    int r = seqshm__number(v, path, index, &t, &u, &d);
    if (r < 0)
        return r;
    *out = r == 1 ? d : seqshm__signed(t) ? (double)(int64_t)u : (double)u;
    return SEQSHM_OK;
}

/* seqshm_get_i64 stores an integer or bool element as int64. A uint64 above
 * INT64_MAX and floats are SEQSHM_E_TYPE. */
static inline int seqshm_get_i64(const seqshm_value *v, const char *path, uint32_t index, int64_t *out) {
    int t;
    uint64_t u;
    double d;
    int r = seqshm__number(v, path, index, &t, &u, &d);
    if (r < 0)
        return r;
    if (r == 1 || (t == SEQSHM_T_UINT64 && u > (uint64_t)INT64_MAX))
        return SEQSHM_E_TYPE;
    *out = (int64_t)u;
    return SEQSHM_OK;
}

/* seqshm_get_u64 stores an integer or bool element as uint64. A negative
 * value and floats are SEQSHM_E_TYPE. */
static inline int seqshm_get_u64(const seqshm_value *v, const char *path, uint32_t index, uint64_t *out) {
    int t;
    uint64_t u;
    double d;
    int r = seqshm__number(v, path, index, &t, &u, &d);
    if (r < 0)
        return r;
    if (r == 1 || (seqshm__signed(t) && (int64_t)u < 0))
        return SEQSHM_E_TYPE;
    *out = u;
    return SEQSHM_OK;
}

/* seqshm_get_bool stores a bool element (0 false, any other byte true) as 0 or 1. */
static inline int seqshm_get_bool(const seqshm_value *v, const char *path, uint32_t index, int *out) {
    const seqshm_field *f;
    const unsigned char *p;
    int rc = seqshm__elem(v, path, index, &f, &p);
    if (rc != SEQSHM_OK)
        return rc;
    if (f->type != SEQSHM_T_BOOL)
        return SEQSHM_E_TYPE;
    *out = p[0] != 0;
    return SEQSHM_OK;
}

/* seqshm_get_str copies a char[N] field's text, up to its first NUL (or all
 * N bytes), into buf (buflen > 0 bytes), NUL-terminated, truncating if buf
 * is too small. The bytes are as stored (normally UTF-8; not checked). */
static inline int seqshm_get_str(const seqshm_value *v, const char *path, char *buf, size_t buflen) {
    const seqshm_field *f;
    const unsigned char *p;
    if (buflen == 0)
        return SEQSHM_E_SHORTBUF;
    buf[0] = 0;
    int rc = seqshm__elem(v, path, 0, &f, &p);
    if (rc != SEQSHM_OK)
        return rc;
    if (f->type != SEQSHM_T_CHAR)
        return SEQSHM_E_TYPE;
    size_t n = 0;
    while (n < f->elem_size && p[n] != 0)
        n++;
    if (n >= buflen)
        n = buflen - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return SEQSHM_OK;
}

/* ---- Opening -------------------------------------------------------------- */

static inline void seqshm__init(seqshm *h) {
    memset(h, 0, sizeof *h);
    h->fd = -1;
    h->schema.align = 1;
}

/* seqshm__attach validates the mapped segment and decodes its schema area;
 * on failure the caller releases the mapping. */
static inline int seqshm__attach(seqshm *h) {
    /* The file may shrink after the size was taken (ftruncate by a hostile
     * writer): then touching the lost pages raises SIGBUS. This is the one
     * thing a mapping cannot defend against; seqshm writers never shrink a
     * segment. */
    int rc = seqshm_decode_header(h->base, h->map_size, &h->g, h->detail, sizeof h->detail);
    if (rc == SEQSHM_OK)
        rc = seqshm_decode_schema_area(h->base, &h->g, &h->schema, h->detail, sizeof h->detail);
    return rc;
}

static inline void seqshm_close(seqshm *h);

/* seqshm__open_failed releases what a failed open holds and returns rc,
 * keeping the path and the error's detail for seqshm_errmsg. */
static inline int seqshm__open_failed(seqshm *h, int rc) {
    char path[sizeof h->path], d[sizeof h->detail];
    memcpy(path, h->path, sizeof path);
    memcpy(d, h->detail, sizeof d);
    seqshm_close(h);
    memcpy(h->path, path, sizeof path);
    memcpy(h->detail, d, sizeof d);
    return rc;
}

#ifndef SEQSHM_WINDOWS

/* seqshm_open_path opens the segment file at path read-only, maps it and
 * validates its header and schema area. On failure h holds no resources and
 * seqshm_errmsg(h, rc) describes the error. A file smaller than the header
 * or with a zero magic gives SEQSHM_E_NOTREADY: a writer may be creating it
 * (it creates the file empty, locks it, then sizes it and writes the
 * header); retry for a bounded time (the Go reader gives up on a file that
 * stays too small for 1 s) before calling it another program's. */
static inline int seqshm_open_path(seqshm *h, const char *path) {
    seqshm__init(h);
    if (strlen(path) >= sizeof h->path) {
        errno = ENAMETOOLONG;
        return seqshm__fail(h, SEQSHM_E_SYS, "open %s", path);
    }
    strcpy(h->path, path);
    int fd;
    /* O_NOFOLLOW: never follow a planted symbolic link; O_NONBLOCK: a FIFO
     * planted at the path cannot block the open; O_CLOEXEC: no leak into
     * children. */
    do {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno == ENOENT)
            return seqshm__fail(h, SEQSHM_E_NOENT, NULL);
        if (errno == ELOOP)
            return seqshm__fail(h, SEQSHM_E_NOTREG, "%s is a symbolic link (not followed)", path);
        return seqshm__fail(h, SEQSHM_E_SYS, "open %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = seqshm__fail(h, SEQSHM_E_SYS, "fstat %s", path);
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return seqshm__fail(h, SEQSHM_E_NOTREG, "%s is not a regular file", path);
    }
    if (st.st_size < SEQSHM_HEADER_SIZE) {
        close(fd);
        return seqshm__fail(h, SEQSHM_E_NOTREADY, "file of %lld bytes is smaller than the %d-byte header",
                            (long long)st.st_size, SEQSHM_HEADER_SIZE);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        errno = EFBIG;
        return seqshm__fail(h, SEQSHM_E_SYS, "segment of %lld bytes is too large to map", (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int rc = seqshm__fail(h, SEQSHM_E_SYS, "mmap %s", path);
        close(fd);
        return rc;
    }
    h->base = (const unsigned char *)p;
    h->map_size = size;
    h->fd = fd;
    int rc = seqshm__attach(h);
    return rc == SEQSHM_OK ? rc : seqshm__open_failed(h, rc);
}

/* seqshm_open opens the segment NAME in seqshm_dir(). */
static inline int seqshm_open(seqshm *h, const char *name) {
    seqshm__init(h);
    if (!seqshm_valid_name(name))
        return seqshm__fail(h, SEQSHM_E_NAME, "segment names are 1-200 characters of [A-Za-z0-9._-], not starting with '.'");
    char path[sizeof h->path];
    int n = snprintf(path, sizeof path, "%s/%s", seqshm_dir(), name);
    if (n < 0 || (size_t)n >= sizeof path) {
        errno = ENAMETOOLONG;
        return seqshm__fail(h, SEQSHM_E_SYS, "path of segment %s", name);
    }
    return seqshm_open_path(h, path);
}

/* seqshm_close unmaps the segment and closes its descriptor. */
static inline void seqshm_close(seqshm *h) {
    if (h->waiter_map != NULL)
        munmap(h->waiter_map, h->waiter_map_len);
    if (h->base != NULL)
        munmap((void *)(uintptr_t)h->base, h->map_size);
    if (h->fd >= 0)
        close(h->fd);
    seqshm_schema_free(&h->schema);
    seqshm__init(h);
}

#else /* SEQSHM_WINDOWS */

/* seqshm__win_file_mapping opens the segment file NAME in seqshm_dir()
 * read-only and returns an unnamed read-only mapping of it, or NULL if there
 * is no such file (or it is empty: *size is then 0). *size is the file's
 * size, which bounds the region: a view is rounded up to whole pages, and
 * the bytes past the end of the file read as zeros. The file is opened
 * sharing read, write and delete, as the Go publisher's, and without
 * following a reparse point (a link is not a segment). */
static inline HANDLE seqshm__win_file_mapping(const char *name, char *path, size_t path_len, long long *size) {
    *size = -1;
    const char *dir = seqshm_dir();
    if (dir[0] == 0)
        return NULL;
    int n = snprintf(path, path_len, "%s\\%s", dir, name);
    if (n < 0 || (size_t)n >= path_len)
        return NULL;
    HANDLE f = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (f == INVALID_HANDLE_VALUE)
        return NULL;
    LARGE_INTEGER fs;
    if (!GetFileSizeEx(f, &fs) || fs.QuadPart == 0) { /* an empty file cannot be mapped */
        *size = 0;
        CloseHandle(f);
        return NULL;
    }
    *size = fs.QuadPart;
    HANDLE m = CreateFileMappingW(f, NULL, PAGE_READONLY, 0, 0, NULL);
    CloseHandle(f); /* the mapping keeps the file open */
    return m;
}

/* seqshm_open opens the segment NAME read-only and validates its header and
 * schema area: the file NAME in the segment directory (values are kept
 * there after every publisher exits), else the named file mapping
 * Local\seqshm.NAME of a running publisher (FILE_MAP_READ), as a program
 * written like the classic example opens it. The size of the mapping is
 * that of its view, rounded up to whole pages (VirtualQuery). */
static inline int seqshm_open(seqshm *h, const char *name) {
    seqshm__init(h);
    if (!seqshm_valid_name(name))
        return seqshm__fail(h, SEQSHM_E_NAME, "segment names are 1-200 characters of [A-Za-z0-9._-], not starting with '.'");
    long long file_size;
    HANDLE m = seqshm__win_file_mapping(name, h->path, sizeof h->path, &file_size);
    if (file_size >= 0 && file_size < SEQSHM_HEADER_SIZE) { /* as on Linux */
        if (m != NULL)
            CloseHandle(m);
        return seqshm__fail(h, SEQSHM_E_NOTREADY, "file of %lld bytes is smaller than the %d-byte header", file_size,
                            SEQSHM_HEADER_SIZE);
    }
    if (m == NULL) {
        snprintf(h->path, sizeof h->path, "%s%s", SEQSHM_WIN_MAPPING_PREFIX, name);
        wchar_t wname[sizeof SEQSHM_WIN_MAPPING_PREFIX + SEQSHM_MAX_NAME];
        size_t i = 0;
        for (const char *p = h->path; *p; p++) /* valid names are ASCII */
            wname[i++] = (wchar_t)(unsigned char)*p;
        wname[i] = 0;
        m = OpenFileMappingW(FILE_MAP_READ, FALSE, wname);
    }
    if (m == NULL) {
        if (GetLastError() == ERROR_FILE_NOT_FOUND)
            return seqshm__fail(h, SEQSHM_E_NOENT, NULL);
        return seqshm__fail(h, SEQSHM_E_SYS, "OpenFileMapping %s", h->path);
    }
    void *p = MapViewOfFile(m, FILE_MAP_READ, 0, 0, 0);
    if (p == NULL) {
        int rc = seqshm__fail(h, SEQSHM_E_SYS, "MapViewOfFile %s", h->path);
        CloseHandle(m);
        return rc;
    }
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQuery(p, &mbi, sizeof mbi) == 0) {
        int rc = seqshm__fail(h, SEQSHM_E_SYS, "VirtualQuery %s", h->path);
        UnmapViewOfFile(p);
        CloseHandle(m);
        return rc;
    }
    h->base = (const unsigned char *)p;
    h->map_size = (size_t)mbi.RegionSize;
    if (file_size > 0 && (unsigned long long)file_size < (unsigned long long)h->map_size)
        h->map_size = (size_t)file_size; /* the view's page rounding is not the segment's */
    h->mapping = m;
    if (h->map_size < SEQSHM_HEADER_SIZE)
        return seqshm__open_failed(h, seqshm__fail(h, SEQSHM_E_NOTREADY, "mapping smaller than the %d-byte header",
                                                   SEQSHM_HEADER_SIZE));
    int rc = seqshm__attach(h);
    return rc == SEQSHM_OK ? rc : seqshm__open_failed(h, rc);
}

/* seqshm_close unmaps the segment and closes its handle. */
static inline void seqshm_close(seqshm *h) {
    if (h->base != NULL)
        UnmapViewOfFile((void *)(uintptr_t)h->base);
    if (h->mapping != NULL)
        CloseHandle(h->mapping);
    seqshm_schema_free(&h->schema);
    seqshm__init(h);
}

#endif /* SEQSHM_WINDOWS */

/* seqshm_errmsg formats the error rc of the last call on h: the short
 * description, then the detail or the system error. The string lives in a
 * thread-local buffer until the next call. */
static inline const char *seqshm_errmsg(const seqshm *h, int rc) {
    static _Thread_local char buf[512];
    const char *s = seqshm_strerror(rc);
    char sys[128];
#ifdef SEQSHM_WINDOWS
    snprintf(sys, sizeof sys, "Windows error %d", h->sys_errno);
#else
    snprintf(sys, sizeof sys, "%s", strerror(h->sys_errno));
#endif
    if (rc == SEQSHM_E_SYS && h->detail[0])
        snprintf(buf, sizeof buf, "%s: %s", h->detail, sys);
    else if (rc == SEQSHM_E_SYS)
        snprintf(buf, sizeof buf, "%s", sys);
    else if (h->detail[0])
        snprintf(buf, sizeof buf, "%s: %s", s, h->detail);
    else
        snprintf(buf, sizeof buf, "%s", s);
    return buf;
}

/* ---- Reading ------------------------------------------------------------- */

static inline void seqshm__yield(void) {
#ifdef SEQSHM_WINDOWS
    SwitchToThread();
#else
    sched_yield();
#endif
}

/* seqshm_seq returns the write number of the newest complete value (the
 * counter / 2), 0 if none. */
static inline uint64_t seqshm_seq(const seqshm *h) {
    return atomic_load_explicit(seqshm__w64(h->base, SEQSHM_OFF_COUNTER), memory_order_acquire) / 2;
}

/* seqshm_read copies the newest complete value into buf (buflen bytes) and
 * describes it in *meta. It never waits for a write in progress. Returns
 * SEQSHM_OK, SEQSHM_E_NOVALUE, SEQSHM_E_SHORTBUF (meta->len set; read
 * again with a larger buffer), SEQSHM_E_LAPPED (read again) or
 * SEQSHM_E_CORRUPT (the slot contradicts the counter or the header). A
 * successful read observes one complete write, in full; its write number
 * is the counter / 2 at the first load, so successive reads by one thread
 * never go backwards. */
static inline int seqshm_read(seqshm *h, void *buf, size_t buflen, seqshm_meta *meta) {
    if (h->base == NULL)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
    const _Atomic uint64_t *ctr = seqshm__w64(h->base, SEQSHM_OFF_COUNTER);
    const uint64_t cap = h->g.capacity, mask = h->g.slot_count - 1;
    memset(meta, 0, sizeof *meta);
    for (int lap = 0; lap < SEQSHM_MAX_LAPS; lap++) {
        if (lap > 0 && lap % 64 == 0)
            seqshm__yield();
        /* Acquire (x86-64: MOV; AArch64: LDAR): write m's store of sseq =
         * 2m is visible below. */
        uint64_t c = atomic_load_explicit(ctr, memory_order_acquire);
        if (c < 2)
            return seqshm__fail(h, SEQSHM_E_NOVALUE, NULL);
        uint64_t m = c / 2; /* newest complete write; it is in slot m & (N-1) */
        const unsigned char *slot = h->base + h->g.slot0 + (m & mask) * h->g.slot_size;
        const _Atomic uint64_t *sseq = seqshm__w64(slot, SEQSHM_SLOT_OFF_SSEQ);
        /* Acquire: if it reads write m's release store of 2m, every slot
         * store of write m is visible to the loads below. */
        uint64_t s1 = atomic_load_explicit(sseq, memory_order_acquire);
        if (s1 < 2 * m) /* a correct writer stores sseq = 2m before counter = 2m */
            return seqshm__fail(h, SEQSHM_E_CORRUPT,
                                "slot %llu holds sequence word %llu, below the %llu of write %llu that the counter "
                                "says is complete",
                                (unsigned long long)(m & mask), (unsigned long long)s1,
                                (unsigned long long)(2 * m), (unsigned long long)m);
        if (s1 != 2 * m) /* write m+N or later has begun in this slot: lapped */
            continue;
        uint64_t n = seqshm__load(slot, SEQSHM_SLOT_OFF_LEN);
        uint64_t t = seqshm__load(slot, SEQSHM_SLOT_OFF_TIME);
        /* The length is untrusted until the copy is validated: copy only
         * what is in bounds, decide after the second sseq load. */
        if (n <= cap && n <= buflen)
            seqshm__copy((unsigned char *)buf, slot + SEQSHM_SLOT_HEADER_SIZE, n);
        /* Every load above is complete before the sseq load below
         * (x86-64: compiler barrier only; AArch64: DMB ISHLD). */
        atomic_thread_fence(memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(sseq, memory_order_relaxed);
        /* Write m+N, the next to use this slot, first stores sseq =
         * 2(m+N)-1: a copy that read any of its stores sees s2 != s1. */
        if (s2 != s1)
            continue;
        if (n > cap)
            return seqshm__fail(h, SEQSHM_E_CORRUPT, "slot %llu holds write %llu of %llu bytes, at most %llu fit",
                                (unsigned long long)(m & mask), (unsigned long long)m, (unsigned long long)n,
                                (unsigned long long)cap);
        meta->seq = m;
        meta->len = n;
        meta->unix_ns = (int64_t)t;
        if (n > buflen)
            return seqshm__fail(h, SEQSHM_E_SHORTBUF, "value of %llu bytes, buffer of %zu", (unsigned long long)n,
                                buflen);
        return SEQSHM_OK;
    }
    return seqshm__fail(h, SEQSHM_E_LAPPED, NULL);
}

/* seqshm_set_max_value sets the largest value seqshm_read_value allocates
 * for; 0 restores the default, SEQSHM_DEFAULT_MAX_VALUE (64 MiB). */
static inline void seqshm_set_max_value(seqshm *h, uint64_t max) { h->max_value = max; }

/* seqshm_max_value returns the limit of seqshm_read_value. */
static inline uint64_t seqshm_max_value(const seqshm *h) {
    return h->max_value ? h->max_value : SEQSHM_DEFAULT_MAX_VALUE;
}

/* seqshm_read_value reads the newest complete value into *buf (malloc'd,
 * *bufcap bytes; both may start NULL and 0), growing the buffer to the
 * value's length (plus a quarter, for values that grow), never to the
 * capacity the header claims. A value longer than seqshm_max_value is
 * refused with SEQSHM_E_LIMIT (meta->len says how long) without allocating
 * for it. Other results as seqshm_read, and SEQSHM_E_NOMEM. */
static inline int seqshm_read_value(seqshm *h, unsigned char **buf, size_t *bufcap, seqshm_meta *meta) {
    const uint64_t max = seqshm_max_value(h);
    for (int tries = 0;; tries++) {
        int rc = seqshm_read(h, *buf != NULL ? *buf : (unsigned char *)"", *buf != NULL ? *bufcap : 0, meta);
        if (rc != SEQSHM_E_SHORTBUF)
            return rc;
        if (meta->len > max)
            return seqshm__fail(h, SEQSHM_E_LIMIT, "value of %llu bytes, the limit is %llu",
                                (unsigned long long)meta->len, (unsigned long long)max);
        if (tries == 16) /* the value keeps growing past each new buffer: give up */
            return rc;
        uint64_t want = meta->len + meta->len / 4;
        if (want > max)
            want = max;
        if (want < 64)
            want = 64;
        unsigned char *nb = (unsigned char *)realloc(*buf, (size_t)want);
        if (nb == NULL)
            return seqshm__fail(h, SEQSHM_E_NOMEM, "buffer of %llu bytes", (unsigned long long)want);
        *buf = nb;
        *bufcap = (size_t)want;
    }
}

/* ---- Writer liveness ------------------------------------------------------ */

#if defined(__linux__) && !defined(F_OFD_GETLK)
#define F_OFD_GETLK 36 /* Linux >= 3.15, same number on every architecture */
#endif

/* seqshm_writer_lock probes the writer lock without taking anything: 1 if
 * a writer holds it (*pid = its pid in its own pid namespace, 0 if
 * unknown), 0 if it is free, SEQSHM_E_SYS on failure, SEQSHM_E_UNSUPPORTED
 * on Windows. The writer holds an open-file-description write lock (fcntl
 * F_OFD_SETLK) on the byte range [2^62, 2^62 + 1 + pid) of the segment
 * file; F_OFD_GETLK reports the conflicting lock, whose length gives the
 * pid (the kernel reports the pid of an OFD lock as -1). */
static inline int seqshm_writer_lock(seqshm *h, int64_t *pid) {
    *pid = 0;
#ifdef SEQSHM_WINDOWS
    if (h->base == NULL)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
    return SEQSHM_E_UNSUPPORTED;
#else
    if (h->fd < 0)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
    struct flock lk;
    memset(&lk, 0, sizeof lk);
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    lk.l_start = SEQSHM_LOCK_BASE;
    lk.l_len = 0; /* to the end of the file's range */
    lk.l_pid = 0; /* must be 0 for OFD commands */
    int r;
    do {
        r = fcntl(h->fd, F_OFD_GETLK, &lk);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return seqshm__fail(h, SEQSHM_E_SYS, "probe writer lock of %s", h->path);
    if (lk.l_type == F_UNLCK)
        return 0;
    if (lk.l_start == SEQSHM_LOCK_BASE && lk.l_len > 1)
        *pid = (int64_t)lk.l_len - 1;
    else if (lk.l_pid > 0) /* a classic POSIX lock of some other program */
        *pid = lk.l_pid;
    return 1;
#endif
}

/* seqshm_state_name names the writer's state from the header and the lock
 * probe, as seqlock.Subscriber.Stat does: "running" (Go: "alive") if a
 * writer holds the lock (whatever the state says: it may still be
 * initialising), "closed" if the last writer closed cleanly, "none" if no
 * writer ever opened the segment, "died" otherwise (state running or init
 * with the lock free: the writer exited without closing), "unknown" if the
 * lock could not be probed and the state does not say. */
static inline const char *seqshm_state_name(uint64_t state, int lock_held, uint64_t seq, uint64_t pid) {
    if (lock_held == 1)
        return "running";
    if (state == SEQSHM_STATE_CLOSED)
        return "closed";
    if (lock_held < 0)
        return "unknown";
    if (state == SEQSHM_STATE_INIT && seq == 0 && pid == 0)
        return "none";
    return "died";
}

/* seqshm_own_pid_ns returns this process's PID namespace, the inode number
 * of /proc/self/ns/pid, or 0 if unknown (always on Windows). */
static inline uint64_t seqshm_own_pid_ns(void) {
#ifdef SEQSHM_WINDOWS
    return 0;
#else
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) != 0)
        return 0;
    return (uint64_t)st.st_ino;
#endif
}

/* seqshm_get_info fills *info with the header and the writer's state. */
static inline int seqshm_get_info(seqshm *h, seqshm_info *info) {
    memset(info, 0, sizeof *info);
    if (h->base == NULL)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
    info->g = h->g;
    info->g.flags = seqshm__load(h->base, SEQSHM_OFF_FLAGS);
    info->map_size = h->map_size;
    info->counter = atomic_load_explicit(seqshm__w64(h->base, SEQSHM_OFF_COUNTER), memory_order_acquire);
    info->seq = info->counter / 2;
    info->state = seqshm__load(h->base, SEQSHM_OFF_WRITER_STATE);
    info->writer_pid = seqshm__load(h->base, SEQSHM_OFF_WRITER_PID);
    info->writer_pid_ns = seqshm__load(h->base, SEQSHM_OFF_PID_NS);
    info->own_pid_ns = seqshm_own_pid_ns();
    info->pid_foreign = info->writer_pid_ns != 0 && info->own_pid_ns != 0 && info->writer_pid_ns != info->own_pid_ns;
    info->created_ns = (int64_t)seqshm__load(h->base, SEQSHM_OFF_CREATED);
    info->writer_start_ns = (int64_t)seqshm__load(h->base, SEQSHM_OFF_WRITER_START);
    int64_t pid;
    int r = seqshm_writer_lock(h, &pid);
    info->lock_held = r < 0 ? -1 : r;
    info->lock_pid = pid;
    return SEQSHM_OK;
}

/* ---- Waiting ------------------------------------------------------------- */

#ifndef SEQSHM_WINDOWS
#ifndef MEMBARRIER_CMD_GLOBAL_EXPEDITED
#define SEQSHM__MEMBARRIER_CMD_GLOBAL_EXPEDITED (1 << 1)
#else
#define SEQSHM__MEMBARRIER_CMD_GLOBAL_EXPEDITED MEMBARRIER_CMD_GLOBAL_EXPEDITED
#endif
#endif

/* seqshm_enable_futex maps the segment's waiter area read-write so that
 * seqshm_wait can set the waiter bit and sleep on a futex instead of
 * polling. It reopens the file by path with O_RDWR and checks it is still
 * the same file. Without it (no waiter area, or no write permission),
 * seqshm_wait polls. The data stays mapped read-only. On Windows it does
 * nothing (SEQSHM_OK): seqshm_wait polls. */
static inline int seqshm_enable_futex(seqshm *h) {
    if (h->base == NULL)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
#ifdef SEQSHM_WINDOWS
    return SEQSHM_OK;
#else
    if (h->waiters != NULL || h->g.notify == 0)
        return SEQSHM_OK;
    int fd;
    do {
        fd = open(h->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return seqshm__fail(h, SEQSHM_E_SYS, "open %s for waiting", h->path);
    struct stat a, b;
    if (fstat(fd, &a) != 0 || fstat(h->fd, &b) != 0) {
        int rc = seqshm__fail(h, SEQSHM_E_SYS, "fstat %s", h->path);
        close(fd);
        return rc;
    }
    if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
        close(fd);
        return seqshm__fail(h, SEQSHM_E_NOENT, "%s now names a different file", h->path);
    }
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
    uint64_t start = h->g.notify / page * page;
    size_t len = (size_t)(h->g.notify + SEQSHM_NOTIFY_SIZE - start);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
    close(fd);
    if (p == MAP_FAILED)
        return seqshm__fail(h, SEQSHM_E_SYS, "mmap waiter area of %s", h->path);
    h->waiter_map = p;
    h->waiter_map_len = len;
    h->waiters = (_Atomic uint32_t *)(void *)((unsigned char *)p + (h->g.notify - start) + SEQSHM_NOTIFY_OFF_WAITER);
    return SEQSHM_OK;
#endif
}

/* seqshm_now_ns returns a monotonic clock in nanoseconds. */
static inline int64_t seqshm_now_ns(void) {
#ifdef SEQSHM_WINDOWS
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (int64_t)((double)c.QuadPart * 1e9 / (double)f.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
#endif
}

static inline void seqshm__sleep_ns(int64_t ns) {
#ifdef SEQSHM_WINDOWS
    Sleep((DWORD)((ns + 999999) / 1000000)); /* at least 1 ms */
#else
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
#endif
}

/* seqshm_wait waits until the newest write number exceeds after, or
 * timeout_ns passes (negative: no timeout), and stores the newest write
 * number in *seq. Returns SEQSHM_OK or SEQSHM_E_TIMEOUT. With
 * seqshm_enable_futex it sets the waiter bit of the waiter word (an event
 * count in the waiter area) and sleeps on a shared futex on that word (the
 * writer is another process), which the writer wakes after its commit;
 * otherwise it polls with a backoff of 20 us to 5 ms (Windows: 1 to 5 ms).
 * A signal interrupts neither; check your own flag after it returns (each
 * futex sleep is at most 100 ms, which also bounds the delay behind a
 * writer that never wakes anyone: see docs/layout.md, "Waiting for a new
 * value"). */
static inline int seqshm_wait(seqshm *h, uint64_t after, int64_t timeout_ns, uint64_t *seq) {
    if (h->base == NULL)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
    const _Atomic uint64_t *ctr = seqshm__w64(h->base, SEQSHM_OFF_COUNTER);
    int64_t deadline = timeout_ns < 0 ? INT64_MAX : seqshm_now_ns() + timeout_ns;
    int64_t backoff = 20000;
    for (int i = 0; i < 64; i++) {
        uint64_t s = atomic_load_explicit(ctr, memory_order_acquire);
        if (s / 2 > after) {
            *seq = s / 2;
            return SEQSHM_OK;
        }
    }
    for (;;) {
        int64_t left = deadline == INT64_MAX ? INT64_MAX : deadline - seqshm_now_ns();
        if (left <= 0) {
            *seq = seqshm_seq(h);
            return seqshm__fail(h, SEQSHM_E_TIMEOUT, NULL);
        }
#ifndef SEQSHM_WINDOWS
        if (h->waiters != NULL) {
            /* (S1) Set the waiter bit before the last look at the counter,
             * and keep the word we made (key): either the writer's load
             * of the word (after its commit) sees the bit and wakes us, or
             * our load of the counter below sees its commit. Seq_cst RMW
             * then seq_cst load on our side (LOCK OR / LOCK CMPXCHG on
             * x86-64; LDSETAL or an LDAXR/STLXR loop on AArch64, then
             * LDAR); the writer has a seq_cst store/fence before its load,
             * or relies on the membarrier below (flag bit 0). The bit is
             * never cleared here: the writer clears it, and advances the
             * epoch in bits 1-31, when it wakes the sleepers. */
            uint32_t key = atomic_fetch_or_explicit(h->waiters, SEQSHM_WAITER_BIT, memory_order_seq_cst) |
                           SEQSHM_WAITER_BIT;
            /* (S2) Reload the header flags after setting the bit: a new
             * writer may have adopted the segment; it stores its flags
             * (seq_cst) before its first commit. */
            uint64_t flags = atomic_load_explicit(seqshm__w64(h->base, SEQSHM_OFF_FLAGS), memory_order_seq_cst);
            /* (S3) Not when the writer says it fences its commits (bit 1,
             * set while waiters sleep): the membarrier would interrupt its
             * CPU for nothing. */
            if ((flags & (SEQSHM_FLAG_MEMBARRIER | SEQSHM_FLAG_FENCED)) == SEQSHM_FLAG_MEMBARRIER &&
                syscall(SYS_membarrier, SEQSHM__MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0) {
                /* Cannot happen on the kernel where the writer registered;
                 * if it does, fall back to a short poll (the bit stays
                 * set: at most one needless wake system call). */
                seqshm__sleep_ns(backoff < left ? backoff : left);
                backoff = backoff * 2 > 5000000 ? 5000000 : backoff * 2;
                continue;
            }
            /* (S4) the last look. */
            uint64_t s = atomic_load_explicit(ctr, memory_order_seq_cst);
            if (s / 2 > after) {
                *seq = s / 2;
                return SEQSHM_OK;
            }
            int64_t d = left < SEQSHM_MAX_SLEEP_NS ? left : SEQSHM_MAX_SLEEP_NS;
            struct timespec ts = {(time_t)(d / 1000000000), (long)(d % 1000000000)};
            /* (S5) FUTEX_WAIT (0, without FUTEX_PRIVATE_FLAG) on the waiter
             * word, not on the counter: the kernel compares the word with
             * key atomically with going to sleep, so a wake since S1
             * (which changed the epoch) makes it return EAGAIN at once.
             * A relative timeout; 0, EAGAIN, EINTR and ETIMEDOUT all just
             * loop: look at the counter, and set the bit again if we
             * sleep again. */
            syscall(SYS_futex, (void *)h->waiters, 0 /* FUTEX_WAIT */, key, &ts, NULL, 0);
        } else
#endif
        {
            seqshm__sleep_ns(backoff < left ? backoff : left);
            backoff = backoff * 2 > 5000000 ? 5000000 : backoff * 2;
        }
        uint64_t s = atomic_load_explicit(ctr, memory_order_acquire);
        if (s / 2 > after) {
            *seq = s / 2;
            return SEQSHM_OK;
        }
    }
}

#endif /* SEQSHM_H */
