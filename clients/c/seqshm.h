/*
 * seqshm.h - read seqshm segments (layout version 1) from C.
 *
 * Single header, C11 <stdatomic.h> and libc only, every function static
 * inline. The byte layout and the protocol are specified in docs/layout.md;
 * this file follows it and github.com/seqshm/seqshm/seqlock (decodeHeader,
 * Reader.Read) exactly.
 *
 * Include this header before any system header (it defines _GNU_SOURCE for
 * syscall(), F_OFD_GETLK and friends), or compile with -D_GNU_SOURCE.
 *
 * Supported: Linux on little-endian 64-bit CPUs with lock-free 8-byte
 * atomics (x86-64, AArch64). The memory-ordering argument below is made for
 * those two.
 *
 *     seqshm h;
 *     int rc = seqshm_open(&h, "imu");
 *     if (rc != SEQSHM_OK) { fprintf(stderr, "%s\n", seqshm_errmsg(&h, rc)); ... }
 *     unsigned char buf[4096];
 *     seqshm_meta meta;
 *     rc = seqshm_read(&h, buf, sizeof buf, &meta);   // newest complete value
 *     ...
 *     seqshm_close(&h);
 *
 * Concurrency: one seqshm handle may be used by several threads for
 * seqshm_read, seqshm_seq, seqshm_info and seqshm_wait at once (each passes
 * its own buffer), except that the error detail (seqshm_errmsg) is shared;
 * seqshm_close and seqshm_enable_futex must not run concurrently with
 * anything else on the handle. The handle never stores to the data mapping
 * (it is mapped PROT_READ); seqshm_enable_futex maps the small waiter area
 * read-write, because a waiter sets the waiter bit of the waiter word there
 * (an atomic OR; it never stores anything else, anywhere).
 *
 * # Memory ordering (why seqshm_read is correct)
 *
 * The reader follows Boehm's recipe for seqlocks in the C11 model ("Can
 * seqlocks get along with programming language memory models?", MSPC 2012):
 *
 *   s1 = load(seq, acquire)
 *   copy the slot with relaxed atomic 8-byte loads
 *   atomic_thread_fence(acquire)
 *   s2 = load(seq, relaxed)
 *   accept iff s1 <= s2 <= 2*(s1/2) + 2
 *
 * A writer (docs/layout.md gives its side) opens write n with a release
 * store of 2n-1 followed by atomic_thread_fence(release), stores the slot,
 * and commits with a release store of 2n.
 *
 *   - Completeness: if s1 = 2m or 2m+1, the acquire load read a release
 *     store that is sequenced after write m's slot stores, so every slot
 *     store of write m happens before our copy.
 *   - No tearing: slot m%2 is next written by write m+2, which first stores
 *     2m+3 and then fences (release). If our copy read any store of write
 *     m+2 (or later), that release fence synchronizes with our acquire fence
 *     (C11 7.17.4p2, fence-to-fence synchronization through the relaxed
 *     data store and load), so the store of 2m+3 happens before our s2 load,
 *     and by coherence s2 >= 2m+3: the copy is rejected.
 *
 * The payload is copied with relaxed atomic 8-byte loads, not memcpy. A
 * memcpy racing with the writer's stores is a data race, undefined
 * behaviour in C11; it works in practice (GCC and Clang emit no code that
 * depends on the absence of races in a memcpy, and the fence keeps it
 * between the counter loads), which is what the Go reader relies on. The
 * relaxed loads make this reader a data-race-free C11 program instead, and
 * they cost nothing extra per word on the targets: on x86-64 and AArch64 a
 * relaxed aligned 8-byte load is an ordinary MOV / LDR. What is lost is
 * memcpy's vector loads, which only matters for values of many kilobytes.
 *
 * What the compiler emits (GCC and Clang):
 *
 *   x86-64:  acquire load = MOV; relaxed load = MOV; acquire fence = nothing
 *            but a compiler barrier. x86-TSO never reorders a load with a
 *            later load, so s1 -> copy -> s2 stay in order in hardware; the
 *            fence only stops the compiler from moving the copy's loads past
 *            the s2 load.
 *   AArch64: acquire load = LDAR (later loads are not performed before it);
 *            relaxed loads = LDR; acquire fence = DMB ISHLD (earlier loads
 *            are complete before any later load), then LDR for s2. The DMB
 *            is required: LDAR alone does not keep earlier loads (the copy)
 *            before a later load. This is the same pair of barriers as
 *            seqlock/order_arm64.s (LDAR ... DMB ISHLD ... LDAR).
 *
 * A segment is untrusted input: the header is validated against the size
 * of the mapping before anything else is read (seqshm_attach, the port of
 * decodeHeader), every offset used afterwards comes from the validated
 * copy, and a slot's length and write number are checked only after the
 * copy is known to be consistent. Nothing a writer stores can make this
 * reader read outside its mapping, loop forever or crash.
 */
#ifndef SEQSHM_H
#define SEQSHM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

/* ---- Layout version 1 (docs/layout.md) ---------------------------------- */

#define SEQSHM_LAYOUT_VERSION 1
#define SEQSHM_OFF_MAGIC 0
#define SEQSHM_OFF_VERSION 8
#define SEQSHM_OFF_HEADER_SIZE 16
#define SEQSHM_OFF_CAPACITY 24
#define SEQSHM_OFF_SLOT_SIZE 32
#define SEQSHM_OFF_SLOT0 40
#define SEQSHM_OFF_SLOT1 48
#define SEQSHM_OFF_TOTAL_SIZE 56
#define SEQSHM_OFF_FINGERPRINT 64
#define SEQSHM_OFF_CREATED 72
#define SEQSHM_OFF_WRITER_STATE 80
#define SEQSHM_OFF_WRITER_PID 88
#define SEQSHM_OFF_WRITER_START 96
#define SEQSHM_OFF_NOTIFY 104
#define SEQSHM_OFF_FLAGS 112
#define SEQSHM_OFF_SEQ 128
#define SEQSHM_HEADER_SIZE 256
#define SEQSHM_SLOT_HEADER_SIZE 64
#define SEQSHM_SLOT_OFF_LEN 0
#define SEQSHM_SLOT_OFF_TIME 8
#define SEQSHM_SLOT_OFF_WRITE_NUM 16
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

/* ---- Errors -------------------------------------------------------------- */

enum {
    SEQSHM_OK = 0,
    SEQSHM_E_SYS = -1,       /* a system call failed; errno is in h->sys_errno */
    SEQSHM_E_NAME = -2,      /* not a valid segment name */
    SEQSHM_E_NOENT = -3,     /* no such segment */
    SEQSHM_E_NOTREG = -4,    /* the path is not a regular file (link, FIFO, dir...) */
    SEQSHM_E_NOTREADY = -5,  /* magic still zero: the writer is initialising */
    SEQSHM_E_NOTSEQSHM = -6, /* bad magic */
    SEQSHM_E_VERSION = -7,   /* unknown layout version */
    SEQSHM_E_CORRUPT = -8,   /* header or slot inconsistent with the mapping */
    SEQSHM_E_NOVALUE = -9,   /* no write has completed yet */
    SEQSHM_E_SHORTBUF = -10, /* buffer smaller than the value; meta->len says how large */
    SEQSHM_E_LAPPED = -11,   /* overtaken by the writer SEQSHM_MAX_LAPS times; read again */
    SEQSHM_E_TIMEOUT = -12,  /* seqshm_wait: nothing new before the timeout */
    SEQSHM_E_CLOSED = -13    /* the handle is not open */
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
    }
    return "unknown error";
}

/* ---- Types ----------------------------------------------------------------- */

/* The validated geometry of a segment: decodeHeader's result. */
typedef struct seqshm_geometry {
    uint64_t header_size;
    uint64_t capacity;
    uint64_t slot_size;
    uint64_t slot[2];
    uint64_t total_size;
    uint64_t fingerprint;
    uint64_t notify; /* offset of the waiter area, 0 if none */
    uint64_t flags;  /* as at open; seqshm_wait reloads it */
} seqshm_geometry;

/* A value's description, from seqshm_read. */
typedef struct seqshm_meta {
    uint64_t seq;     /* write number: 1 for the first write, +1 per write */
    uint64_t len;     /* length in bytes (with SEQSHM_E_SHORTBUF: the size needed) */
    int64_t unix_ns;  /* publish time, Unix ns; 0 = not stamped */
} seqshm_meta;

/* A snapshot of the header's mutable fields and the writer lock. */
typedef struct seqshm_info {
    seqshm_geometry g;
    uint64_t map_size;       /* bytes mapped (the file size) */
    uint64_t seq;            /* newest complete write number, 0 if none */
    uint64_t counter;        /* the raw counter (odd: a write is in progress) */
    uint64_t state;          /* SEQSHM_STATE_* as stored (other values: corrupt) */
    uint64_t writer_pid;     /* pid of the last writer to open the segment */
    int64_t created_ns;      /* creation time, Unix ns */
    int64_t writer_start_ns; /* when that writer opened it, Unix ns */
    int lock_held;           /* 1: a writer holds the lock, 0: free, -1: unknown */
    int64_t lock_pid;        /* the lock holder's pid from the probe, 0 if unknown */
} seqshm_info;

/* An open segment. Zero it or let seqshm_open fill it. */
typedef struct seqshm {
    const unsigned char *base; /* read-only mapping of the whole file */
    size_t map_size;
    int fd;                    /* read-only descriptor, kept for the lock probe */
    int sys_errno;             /* errno of the last SEQSHM_E_SYS */
    seqshm_geometry g;
    _Atomic uint32_t *waiters; /* writable view of the waiter word, or NULL */
    void *waiter_map;
    size_t waiter_map_len;
    char path[4096];
    char detail[256];          /* detail of the last error, "" if none */
} seqshm;

/* ---- Internals ---------------------------------------------------------- */

/* seqshm__fail records an error's detail (and errno for SEQSHM_E_SYS). */
static inline __attribute__((format(printf, 3, 4))) int seqshm__fail(seqshm *h, int code, const char *fmt, ...) {
    if (code == SEQSHM_E_SYS)
        h->sys_errno = errno;
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
 * the magic, state, pid, start and flags never change after the magic is
 * set; relaxed atomic loads keep even a hostile concurrent writer from
 * being a data race. */
static inline uint64_t seqshm__load(const unsigned char *base, uint64_t off) {
    return atomic_load_explicit(seqshm__w64(base, off), memory_order_relaxed);
}

static inline int seqshm__slot_fits(uint64_t off, uint64_t n, uint64_t hs, uint64_t total) {
    return off >= hs && off % 8 == 0 && off <= total && total - off >= n;
}

static inline int seqshm__overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
    return a < b + bn && b < a + an;
}

/* ---- Opening and validation -------------------------------------------- */

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

/* seqshm_dir returns the directory holding segments: $SEQSHM_DIR, else /dev/shm. */
static inline const char *seqshm_dir(void) {
    const char *d = getenv("SEQSHM_DIR");
    return d != NULL && d[0] != 0 ? d : "/dev/shm";
}

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
    if (v != SEQSHM_LAYOUT_VERSION)
        SEQSHM__BAD(SEQSHM_E_VERSION, "layout version %llu, this reader knows %d", (unsigned long long)v,
                    SEQSHM_LAYOUT_VERSION);
    uint64_t sz = size;
    uint64_t hs = seqshm__load(base, SEQSHM_OFF_HEADER_SIZE);
    uint64_t cap = seqshm__load(base, SEQSHM_OFF_CAPACITY);
    uint64_t ss = seqshm__load(base, SEQSHM_OFF_SLOT_SIZE);
    uint64_t s0 = seqshm__load(base, SEQSHM_OFF_SLOT0);
    uint64_t s1 = seqshm__load(base, SEQSHM_OFF_SLOT1);
    uint64_t total = seqshm__load(base, SEQSHM_OFF_TOTAL_SIZE);
    uint64_t nt = seqshm__load(base, SEQSHM_OFF_NOTIFY);
    /* The order of the checks matters: each one bounds the values the next
     * one does arithmetic on, so no sum below can overflow (all values are
     * at most the mapping size, or at most 2^40 for the capacity). */
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
    if (!seqshm__slot_fits(s0, ss, hs, total) || !seqshm__slot_fits(s1, ss, hs, total))
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "slots at %llu and %llu (size %llu) outside the %llu-byte segment",
                    (unsigned long long)s0, (unsigned long long)s1, (unsigned long long)ss,
                    (unsigned long long)total);
    if ((s0 < s1 && s0 + ss > s1) || (s1 < s0 && s1 + ss > s0) || s0 == s1)
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "slots at %llu and %llu overlap", (unsigned long long)s0,
                    (unsigned long long)s1);
    if (nt != 0 && (nt % 8 != 0 || nt < hs || nt > total || total - nt < SEQSHM_NOTIFY_SIZE ||
                    seqshm__overlap(nt, SEQSHM_NOTIFY_SIZE, s0, ss) ||
                    seqshm__overlap(nt, SEQSHM_NOTIFY_SIZE, s1, ss)))
        SEQSHM__BAD(SEQSHM_E_CORRUPT, "waiter area at %llu", (unsigned long long)nt);
    g->header_size = hs;
    g->capacity = cap;
    g->slot_size = ss;
    g->slot[0] = s0;
    g->slot[1] = s1;
    g->total_size = total;
    g->fingerprint = seqshm__load(base, SEQSHM_OFF_FINGERPRINT);
    g->notify = nt;
    g->flags = seqshm__load(base, SEQSHM_OFF_FLAGS);
    return SEQSHM_OK;
#undef SEQSHM__BAD
}

static inline void seqshm__init(seqshm *h) {
    memset(h, 0, sizeof *h);
    h->fd = -1;
}

/* seqshm_open_path opens the segment file at path read-only, maps it and
 * validates its header. On failure h holds no resources and
 * seqshm_errmsg(h, rc) describes the error. */
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
        return seqshm__fail(h, SEQSHM_E_CORRUPT, "region of %lld bytes is smaller than the %d-byte header",
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
    h->base = p;
    h->map_size = size;
    h->fd = fd;
    /* The file may shrink after the fstat (ftruncate by a hostile writer):
     * then touching the lost pages raises SIGBUS. This is the one thing a
     * mapping cannot defend against; seqshm writers never shrink a segment. */
    int rc = seqshm_decode_header(h->base, h->map_size, &h->g, h->detail, sizeof h->detail);
    if (rc != SEQSHM_OK) {
        char d[sizeof h->detail];
        memcpy(d, h->detail, sizeof d);
        munmap(p, size);
        close(fd);
        seqshm__init(h);
        strcpy(h->path, path);
        memcpy(h->detail, d, sizeof d);
        return rc;
    }
    return SEQSHM_OK;
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
        munmap((void *)h->base, h->map_size);
    if (h->fd >= 0)
        close(h->fd);
    seqshm__init(h);
}

/* seqshm_errmsg formats the error rc of the last call on h: the short
 * description, then the detail or the system error. The string lives in a
 * thread-local buffer until the next call. */
static inline const char *seqshm_errmsg(const seqshm *h, int rc) {
    static _Thread_local char buf[512];
    const char *s = seqshm_strerror(rc);
    if (rc == SEQSHM_E_SYS && h->detail[0])
        snprintf(buf, sizeof buf, "%s: %s", h->detail, strerror(h->sys_errno));
    else if (rc == SEQSHM_E_SYS)
        snprintf(buf, sizeof buf, "%s", strerror(h->sys_errno));
    else if (h->detail[0])
        snprintf(buf, sizeof buf, "%s: %s", s, h->detail);
    else
        snprintf(buf, sizeof buf, "%s", s);
    return buf;
}

/* ---- Reading ------------------------------------------------------------- */

/* seqshm__copy copies n bytes of the payload at src (8-byte aligned, with
 * roundup(n, 8) bytes readable) to dst, one relaxed atomic word at a time. */
static inline void seqshm__copy(unsigned char *dst, const unsigned char *src, uint64_t n) {
    const _Atomic uint64_t *w = (const _Atomic uint64_t *)(const void *)src;
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = atomic_load_explicit(&w[i / 8], memory_order_relaxed);
        memcpy(dst + i, &x, 8);
    }
    if (i < n) {
        /* The tail word lies inside the slot: a slot has
         * slot_size - 64 >= roundup(capacity, 8) payload bytes. */
        uint64_t x = atomic_load_explicit(&w[i / 8], memory_order_relaxed);
        memcpy(dst + i, &x, (size_t)(n - i));
    }
}

/* seqshm_seq returns the write number of the newest complete value, 0 if none. */
static inline uint64_t seqshm_seq(const seqshm *h) {
    return atomic_load_explicit(seqshm__w64(h->base, SEQSHM_OFF_SEQ), memory_order_acquire) / 2;
}

/* seqshm_read copies the newest complete value into buf (buflen bytes) and
 * describes it in *meta. It never waits for a write in progress. Returns
 * SEQSHM_OK, SEQSHM_E_NOVALUE, SEQSHM_E_SHORTBUF (meta->len set; read
 * again with a larger buffer), SEQSHM_E_LAPPED (read again) or
 * SEQSHM_E_CORRUPT (the slot contradicts the header). A successful read
 * observes one complete write, in full. */
static inline int seqshm_read(seqshm *h, void *buf, size_t buflen, seqshm_meta *meta) {
    if (h->base == NULL)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
    const _Atomic uint64_t *seq = seqshm__w64(h->base, SEQSHM_OFF_SEQ);
    const uint64_t cap = h->g.capacity;
    memset(meta, 0, sizeof *meta);
    for (int lap = 0; lap < SEQSHM_MAX_LAPS; lap++) {
        /* Acquire (x86-64: MOV; AArch64: LDAR): the slot loads below are
         * not performed before this one, and write m's stores are visible. */
        uint64_t s1 = atomic_load_explicit(seq, memory_order_acquire);
        if (s1 < 2)
            return seqshm__fail(h, SEQSHM_E_NOVALUE, NULL);
        uint64_t m = s1 / 2; /* newest complete write; it is in slot m%2 */
        const unsigned char *slot = h->base + h->g.slot[m & 1];
        uint64_t n = seqshm__load(slot, SEQSHM_SLOT_OFF_LEN);
        uint64_t t = seqshm__load(slot, SEQSHM_SLOT_OFF_TIME);
        uint64_t num = seqshm__load(slot, SEQSHM_SLOT_OFF_WRITE_NUM);
        /* The length is untrusted until the copy is validated: copy only
         * what is in bounds, decide after the second counter load. */
        if (n <= cap && n <= buflen)
            seqshm__copy(buf, slot + SEQSHM_SLOT_HEADER_SIZE, n);
        /* Every load above is complete before the counter load below
         * (x86-64: compiler barrier only; AArch64: DMB ISHLD). */
        atomic_thread_fence(memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(seq, memory_order_relaxed);
        /* Slot m%2 is next written by write m+2, which first stores 2m+3.
         * Valid iff s1 <= s2 <= 2m+2, written without overflow (2m = s1
         * rounded down to even <= s2). A counter that went backwards is a
         * broken or hostile writer: treated as a lap. */
        if (s2 < s1 || s2 - 2 * m > 2) {
            if (lap % 64 == 63)
                sched_yield();
            continue;
        }
        if (n > cap || num != m)
            return seqshm__fail(h, SEQSHM_E_CORRUPT,
                                "slot %llu holds write %llu of %llu bytes, expected write %llu of at most %llu",
                                (unsigned long long)(m & 1), (unsigned long long)num, (unsigned long long)n,
                                (unsigned long long)m, (unsigned long long)cap);
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

/* ---- Writer liveness ------------------------------------------------------ */

#if defined(__linux__) && !defined(F_OFD_GETLK)
#define F_OFD_GETLK 36 /* Linux >= 3.15, same number on every architecture */
#endif

/* seqshm_writer_lock probes the writer lock without taking anything: 1 if
 * a writer holds it (*pid = its pid in its own pid namespace, 0 if
 * unknown), 0 if it is free, SEQSHM_E_SYS on failure. The writer holds an
 * open-file-description write lock (fcntl F_OFD_SETLK) on the byte range
 * [2^62, 2^62 + 1 + pid) of the segment file; F_OFD_GETLK reports the
 * conflicting lock, whose length gives the pid (the kernel reports the pid
 * of an OFD lock as -1). */
static inline int seqshm_writer_lock(seqshm *h, int64_t *pid) {
    *pid = 0;
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
}

/* seqshm_state_name names the writer's state from the header and the lock
 * probe, as seqlock.Subscriber.Status does: "running" if a writer holds
 * the lock (whatever the state says: it may still be initialising),
 * "closed" if the last writer closed cleanly, "none" if no writer ever
 * opened the segment, "died" otherwise (state running or init with the
 * lock free: the writer exited without closing), "unknown" if the lock
 * could not be probed and the state does not say. */
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

/* seqshm_get_info fills *info with the header and the writer's state. */
static inline int seqshm_get_info(seqshm *h, seqshm_info *info) {
    memset(info, 0, sizeof *info);
    if (h->base == NULL)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
    info->g = h->g;
    info->g.flags = seqshm__load(h->base, SEQSHM_OFF_FLAGS);
    info->map_size = h->map_size;
    info->counter = atomic_load_explicit(seqshm__w64(h->base, SEQSHM_OFF_SEQ), memory_order_acquire);
    info->seq = info->counter / 2;
    info->state = seqshm__load(h->base, SEQSHM_OFF_WRITER_STATE);
    info->writer_pid = seqshm__load(h->base, SEQSHM_OFF_WRITER_PID);
    info->created_ns = (int64_t)seqshm__load(h->base, SEQSHM_OFF_CREATED);
    info->writer_start_ns = (int64_t)seqshm__load(h->base, SEQSHM_OFF_WRITER_START);
    int64_t pid;
    int r = seqshm_writer_lock(h, &pid);
    info->lock_held = r < 0 ? -1 : r;
    info->lock_pid = pid;
    return SEQSHM_OK;
}

/* ---- Waiting ------------------------------------------------------------- */

#ifndef MEMBARRIER_CMD_GLOBAL_EXPEDITED
#define SEQSHM__MEMBARRIER_CMD_GLOBAL_EXPEDITED (1 << 1)
#else
#define SEQSHM__MEMBARRIER_CMD_GLOBAL_EXPEDITED MEMBARRIER_CMD_GLOBAL_EXPEDITED
#endif

/* seqshm_enable_futex maps the segment's waiter area read-write so that
 * seqshm_wait can set the waiter bit and sleep on a futex instead of
 * polling. It reopens the file by path with O_RDWR and checks it is still
 * the same file. Without it (no waiter area, or no write permission),
 * seqshm_wait polls. The data stays mapped read-only. */
static inline int seqshm_enable_futex(seqshm *h) {
    if (h->base == NULL)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
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
}

static inline int64_t seqshm__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void seqshm__sleep_ns(int64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* seqshm_wait waits until the newest write number exceeds after, or
 * timeout_ns passes (negative: no timeout), and stores the newest write
 * number in *seq. Returns SEQSHM_OK or SEQSHM_E_TIMEOUT. With
 * seqshm_enable_futex it sets the waiter bit of the waiter word (an event
 * count in the waiter area) and sleeps on a shared futex on that word (the
 * writer is another process), which the writer wakes after its commit;
 * otherwise it polls with a backoff of 20 us to 5 ms. A signal interrupts
 * neither; check your own flag after it returns (each futex sleep is at
 * most 100 ms, which also bounds the delay behind a writer that never
 * wakes anyone: see docs/layout.md, "Waiting for a new value"). */
static inline int seqshm_wait(seqshm *h, uint64_t after, int64_t timeout_ns, uint64_t *seq) {
    if (h->base == NULL)
        return seqshm__fail(h, SEQSHM_E_CLOSED, NULL);
    _Atomic uint64_t *ctr = (_Atomic uint64_t *)(uintptr_t)seqshm__w64(h->base, SEQSHM_OFF_SEQ);
    int64_t deadline = timeout_ns < 0 ? INT64_MAX : seqshm__now_ns() + timeout_ns;
    int64_t backoff = 20000;
    for (int i = 0; i < 64; i++) {
        uint64_t s = atomic_load_explicit(ctr, memory_order_acquire);
        if (s / 2 > after) {
            *seq = s / 2;
            return SEQSHM_OK;
        }
    }
    for (;;) {
        int64_t left = deadline == INT64_MAX ? INT64_MAX : deadline - seqshm__now_ns();
        if (left <= 0) {
            *seq = seqshm_seq(h);
            return seqshm__fail(h, SEQSHM_E_TIMEOUT, NULL);
        }
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
        } else {
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
