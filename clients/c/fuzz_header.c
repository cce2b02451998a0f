/*
 * fuzz_header - check that seqshm.h never reads outside a mapping or a
 * buffer, whatever the header, the schema area and the slots hold. Used by
 * clients/test.sh.
 *
 * The region under test ends exactly at a PROT_NONE guard page, so any read
 * past its end faults. Starting from a valid segment (the geometry the Go
 * writer makes, with a schema area), each round sets random header and slot
 * words to random or boundary values, then decodes the header and, if it is
 * accepted, checks the geometry's invariants, decodes the schema area and
 * reads with large and small buffers.
 *
 * Then the schema decoder alone: starting from valid encodings (those of
 * docs/layout.md), each round damages random bytes, words or the length,
 * decodes the result from a buffer that ends at the guard page, and, if it
 * is accepted, checks that every field lies inside its struct and reads
 * every field with the getters from a value that ends at the guard page
 * (whole, and cut short).
 *
 * usage: fuzz_header [ROUNDS [SCHEMA_ROUNDS]]   (exit 0 if every round passed)
 */
#include "seqshm.h"

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next(void) { /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Du;
}

static uint64_t roundup(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

static size_t cur_size; /* size of the region under test */

static void put(unsigned char *b, uint64_t off, uint64_t v) {
    if (off + 8 <= cur_size) /* the harness itself must not write past the end */
        memcpy(b + off, &v, 8);
}

/* A text schema: the schema header alone. */
static const unsigned char text_schema[] = {0x53, 0x51, 0x53, 0x43, 1, 1, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0};

/* The geometry valid() lays out. */
typedef struct layout {
    uint64_t hs, ss, s0, n, nt, total;
} layout;

/* layout_of returns the layout of a segment of capacity cap (the Go
 * writer's: docs/layout.md), with a 128-byte schema area if with_schema. */
static layout layout_of(uint64_t cap, int with_schema) {
    layout l;
    l.hs = with_schema ? 256 + 128 : 256;
    l.ss = roundup(SEQSHM_SLOT_HEADER_SIZE + roundup(cap, 8), 128);
    l.n = l.ss <= 4096 ? 8 : 4;
    l.s0 = l.hs;
    l.nt = roundup(l.s0 + l.n * l.ss, 4096);
    l.total = l.nt + 128;
    return l;
}

/* valid writes a valid segment of capacity cap (layout_of) into b, whose
 * first size bytes it fills, with write 1 complete ("hello", cut to the
 * capacity) and, if with_schema, a text schema in the schema area; it
 * returns the layout. */
static layout valid(unsigned char *b, uint64_t size, uint64_t cap, int with_schema) {
    memset(b, 0, (size_t)size);
    layout l = layout_of(cap, with_schema);
    if (with_schema && l.hs <= size)
        memcpy(b + 256, text_schema, sizeof text_schema);
    put(b, 8, 2);
    put(b, 16, l.hs);
    put(b, 24, cap);
    put(b, 32, l.ss);
    put(b, 40, l.s0);
    put(b, 48, l.n);
    put(b, 56, l.total < size ? l.total : size);
    put(b, 104, l.total <= size ? l.nt : 0);
    put(b, 0, SEQSHM_MAGIC);
    put(b, 128, 2);                     /* write 1 complete */
    uint64_t s1 = l.s0 + 1 * l.ss;      /* write 1 is in slot 1 & (N-1) = 1 */
    put(b, s1 + SEQSHM_SLOT_OFF_SSEQ, 2);
    put(b, s1 + SEQSHM_SLOT_OFF_LEN, cap < 5 ? cap : 5);
    if (s1 + SEQSHM_SLOT_HEADER_SIZE + 8 <= size)
        memcpy(b + s1 + SEQSHM_SLOT_HEADER_SIZE, "hello", cap < 5 ? (size_t)cap : 5);
    return l;
}

/* attach makes h a handle on the region b (size bytes), as seqshm_open_path
 * does once it has mapped a file, and decodes its header (not the schema
 * area): seqshm_decode_header's result. */
static int attach(seqshm *h, unsigned char *b, size_t size) {
    seqshm__init(h);
    h->base = b;
    h->map_size = size;
    return seqshm_decode_header(b, size, &h->g, h->detail, sizeof h->detail);
}

/* expect decodes the header of the region b (size bytes) and checks the
 * result is want, with a detail containing has; on success it also reads
 * the value and checks it is "hello" (cut to capacity cap) as write 1. */
static int expect(const char *what, unsigned char *b, size_t size, uint64_t cap, int want, const char *has) {
    seqshm h;
    int rc = attach(&h, b, size);
    if (rc != want || (has != NULL && strstr(h.detail, has) == NULL)) {
        fprintf(stderr, "fuzz_header: %s: result %d (%s), want %d with \"%s\"\n", what, rc, h.detail, want,
                has != NULL ? has : "");
        return 1;
    }
    if (rc != SEQSHM_OK)
        return 0;
    unsigned char v[8];
    seqshm_meta meta;
    size_t n = cap < 5 ? (size_t)cap : 5;
    rc = seqshm_read(&h, v, sizeof v, &meta);
    if (rc != SEQSHM_OK || meta.seq != 1 || meta.len != n || memcmp(v, "hello", n) != 0) {
        fprintf(stderr, "fuzz_header: %s: read result %d (%s), write %llu of %llu bytes\n", what, rc, h.detail,
                (unsigned long long)meta.seq, (unsigned long long)meta.len);
        return 1;
    }
    return 0;
}

/* fixed checks valid() and known-bad headers: version 1, slot counts that
 * are not a power of two in [2, 64], slots past the end, a waiter area over
 * the slots, a slot whose sequence word is behind the counter. */
static int fixed(unsigned char *m, size_t span) {
    int bad = 0;
    static const uint64_t caps[] = {1, 4, 13, 40, 121, 364, 1093, 3280, 4032, 4033, 8192};
    for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
        uint64_t cap = caps[ci];
        for (int ws = 0; ws < 2; ws++) {
            layout l = layout_of(cap, ws);
            cur_size = l.total;
            unsigned char *b = m + span - l.total; /* ends at the guard page */
            valid(b, l.total, cap, ws);
            bad |= expect("a valid segment", b, l.total, cap, SEQSHM_OK, NULL);
            put(b, 8, 1);
            bad |= expect("version 1", b, l.total, cap, SEQSHM_E_VERSION, "written by an older seqshm");
            put(b, 8, 3);
            bad |= expect("version 3", b, l.total, cap, SEQSHM_E_VERSION, "layout version 3");
            put(b, 8, 2);
            static const uint64_t counts[] = {0, 1, 3, 6, 128, 1u << 31, UINT64_MAX};
            for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
                put(b, 48, counts[i]);
                bad |= expect("slot count", b, l.total, cap, SEQSHM_E_CORRUPT, "slot count");
            }
            /* More slots than fit before the end (with and without a waiter area). */
            put(b, 48, 64);
            bad |= expect("64 slots", b, l.total, cap, SEQSHM_E_CORRUPT, NULL);
            put(b, 104, 0);
            bad |= expect("64 slots, no waiter area", b, l.total, cap, SEQSHM_E_CORRUPT, "outside");
            put(b, 48, 2);
            bad |= expect("2 slots", b, l.total, cap, SEQSHM_OK, NULL);
            put(b, 48, l.n);
            put(b, 104, l.s0 + l.n * l.ss - 8);
            bad |= expect("waiter area over the last slot", b, l.total, cap, SEQSHM_E_CORRUPT, "waiter area");
            put(b, 104, l.nt);
            put(b, 40, l.total - l.n * l.ss + 8);
            bad |= expect("slots past the end", b, l.total, cap, SEQSHM_E_CORRUPT, "outside");
            put(b, 40, l.hs - 8);
            bad |= expect("slot 0 in the header", b, l.total, cap, SEQSHM_E_CORRUPT, "outside");
            put(b, 40, l.s0 + 4);
            bad |= expect("slot 0 misaligned", b, l.total, cap, SEQSHM_E_CORRUPT, "outside");
            put(b, 40, l.s0);
            put(b, 32, SEQSHM_SLOT_HEADER_SIZE + cap - 1);
            bad |= expect("slot size below 64 + capacity", b, l.total, cap, SEQSHM_E_CORRUPT, "slot size");
            put(b, 32, l.ss);
            /* The counter says write 2 is complete; slot 2 was never written. */
            put(b, 128, 4);
            seqshm h;
            if (attach(&h, b, l.total) == SEQSHM_OK) {
                unsigned char v[8];
                seqshm_meta meta;
                int rc = seqshm_read(&h, v, sizeof v, &meta);
                if (rc != SEQSHM_E_CORRUPT || strstr(h.detail, "sequence word 0, below the 4 of write 2") == NULL) {
                    fprintf(stderr, "fuzz_header: sseq behind the counter: result %d (%s)\n", rc, h.detail);
                    bad = 1;
                }
                /* Write 2 in progress (counter 3, sseq of slot 2 = 3): write 1 still reads. */
                put(b, 128, 3);
                put(b, l.s0 + 2 * l.ss, 3);
                bad |= expect("write 2 in progress", b, l.total, cap, SEQSHM_OK, NULL);
                /* Slot 1 rewritten by write 1+N meanwhile: lapped, never corrupt or a value. */
                put(b, 128, 2);
                put(b, l.s0 + l.ss, 2 * (1 + l.n) - 1);
                rc = seqshm_read(&h, v, sizeof v, &meta);
                if (rc != SEQSHM_E_LAPPED) {
                    fprintf(stderr, "fuzz_header: slot lapped: result %d (%s)\n", rc, h.detail);
                    bad = 1;
                }
            }
        }
    }
    return bad;
}

/* The examples of docs/layout.md: 102 bytes, fingerprint 0xc3b546a2cfe42e7a
 * ("float64 x [m]; float64 y [m]; uint32 status; float64[9] cov; char[8]
 * frame"), and 87 bytes ("struct{float64 x; float64 y} pos; bool ok"). */
static const unsigned char example1[] = {
    0x53, 0x51, 0x53, 0x43, 0x01, 0x03, 0x00, 0x00, 0x66, 0x00, 0x00, 0x00, 0x68, 0x00, 0x00, 0x00, 0x05, 0x00,
    0x08, 0x00, 0x68, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x78, 0x6d, 0x0b, 0x01, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x79, 0x6d, 0x08, 0x06,
    0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x73, 0x74, 0x61, 0x74, 0x75, 0x73, 0x0b, 0x03,
    0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x63, 0x6f, 0x76, 0x0c, 0x05, 0x00, 0x00, 0x60,
    0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x66, 0x72, 0x61, 0x6d, 0x65};
static const unsigned char example2[] = {
    0x53, 0x51, 0x53, 0x43, 0x01, 0x03, 0x00, 0x00, 0x57, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x08, 0x00, 0x18, 0x00, 0x00, 0x00, 0x0d, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x70, 0x6f, 0x73, 0x02, 0x00, 0x08, 0x00, 0x10, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x78, 0x0b, 0x01, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x79, 0x01, 0x02, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6f, 0x6b};

/* walk reads every field of an accepted schema from a value of len bytes
 * at v, with every getter, by path; it returns how many reads succeeded. */
static long walk(const seqshm_schema *s, const unsigned char *v, size_t len) {
    seqshm_value val = {s, v, len};
    long ok = 0;
    for (int i = 0; i < s->nfields; i++) {
        /* The path of field i: its ancestors' names, element 0 or the last. */
        char path[1200] = "";
        int chain[SEQSHM_SCHEMA_MAX_DEPTH + 1], n = 0;
        for (int j = i; j >= 0 && n <= SEQSHM_SCHEMA_MAX_DEPTH; j = s->fields[j].parent)
            chain[n++] = j;
        size_t pl = 0;
        for (int k = n - 1; k >= 0; k--) {
            const seqshm_field *f = &s->fields[chain[k]];
            int w = snprintf(path + pl, sizeof path - pl, "%s%s", k == n - 1 ? "" : ".", f->name);
            pl += (size_t)w;
            if (k > 0 && f->len > 0)
                pl += (size_t)snprintf(path + pl, sizeof path - pl, "[%u]", f->len - 1);
        }
        const seqshm_field *f = &s->fields[i];
        uint32_t last = f->len > 0 && f->type != SEQSHM_T_CHAR ? f->len - 1 : 0;
        for (uint32_t idx = 0; idx <= last + 1; idx += last ? last : 1) {
            double d;
            int64_t i64;
            uint64_t u64;
            int b;
            char str[16];
            ok += seqshm_get_f64(&val, path, idx, &d) == SEQSHM_OK;
            ok += seqshm_get_i64(&val, path, idx, &i64) == SEQSHM_OK;
            ok += seqshm_get_u64(&val, path, idx, &u64) == SEQSHM_OK;
            ok += seqshm_get_bool(&val, path, idx, &b) == SEQSHM_OK;
            ok += seqshm_get_str(&val, path, str, sizeof str) == SEQSHM_OK;
        }
    }
    return ok;
}

/* fuzz_schema runs the schema rounds; see the top of the file. */
static int fuzz_schema(long rounds, unsigned char *m, size_t span) {
    static const struct {
        const unsigned char *b;
        size_t n;
    } seeds[] = {{example1, sizeof example1}, {example2, sizeof example2}, {text_schema, sizeof text_schema}};
    seqshm_schema s;
    char detail[256];
    /* The valid encodings decode, with the documented fingerprint. */
    if (seqshm_schema_decode(example1, sizeof example1, &s, detail, sizeof detail) != SEQSHM_OK ||
        s.fingerprint != UINT64_C(0xc3b546a2cfe42e7a) || s.value_size != 104 || s.nfields != 5) {
        fprintf(stderr, "fuzz_header: example 1 of docs/layout.md: %s\n", detail);
        return 1;
    }
    seqshm_schema_free(&s);
    if (seqshm_schema_decode(example2, sizeof example2, &s, detail, sizeof detail) != SEQSHM_OK ||
        s.value_size != 24 || s.nfields != 4) {
        fprintf(stderr, "fuzz_header: example 2 of docs/layout.md: %s\n", detail);
        return 1;
    }
    seqshm_schema_free(&s);
    long accepted = 0, reads = 0;
    for (long r = 0; r < rounds; r++) {
        int which = (int)(next() % 3);
        size_t n = seeds[which].n;
        unsigned char enc[256];
        memcpy(enc, seeds[which].b, n);
        int muts = 1 + (int)(next() % 3);
        for (int i = 0; i < muts; i++) {
            size_t at = next() % n;
            switch (next() % 5) {
            case 0: enc[at] = (unsigned char)next(); break;
            case 1: enc[at] ^= (unsigned char)(1u << (next() % 8)); break;
            case 2: { /* a boundary u32 */
                static const uint32_t v[] = {0, 1, 7, 8, 0xffff, 0x10000, 0x3fffffff, 0x40000000, 0x7fffffff, 0xffffffff};
                uint32_t x = v[next() % 10];
                if (at + 4 <= n) memcpy(enc + at, &x, 4);
                break;
            }
            case 3: { /* the length */
                uint32_t x = (uint32_t)(n - 4 + next() % 9);
                memcpy(enc + 8, &x, 4);
                break;
            }
            default: /* cut short */
                n = 4 + next() % (n - 3);
                break;
            }
        }
        unsigned char *b = m + span - n; /* ends at the guard page */
        memcpy(b, enc, n);
        int rc = seqshm_schema_decode(b, n, &s, detail, sizeof detail);
        if (rc != SEQSHM_OK) {
            if (rc != SEQSHM_E_SCHEMA || detail[0] == 0) {
                fprintf(stderr, "fuzz_header: schema round %ld: result %d without a reason\n", r, rc);
                return 1;
            }
            continue;
        }
        accepted++;
        if (s.kind != SEQSHM_KIND_STRUCT) {
            seqshm_schema_free(&s);
            continue;
        }
        if (s.nfields < 1 || s.nfields > SEQSHM_SCHEMA_MAX_FIELDS || s.value_size > SEQSHM_SCHEMA_MAX_SIZE) {
            fprintf(stderr, "fuzz_header: schema round %ld: accepted %d fields, size %u\n", r, s.nfields, s.value_size);
            return 1;
        }
        for (int i = 0; i < s.nfields; i++) {
            const seqshm_field *f = &s.fields[i];
            uint64_t room = f->parent < 0 ? s.value_size : s.fields[f->parent].elem_size;
            if ((uint64_t)f->offset + f->size > room || f->depth > SEQSHM_SCHEMA_MAX_DEPTH) {
                fprintf(stderr, "fuzz_header: schema round %ld: field %s outside its struct\n", r, f->name);
                return 1;
            }
        }
        if (s.value_size <= span) {
            unsigned char *v = m + span - s.value_size;
            memset(v, 0xa5, s.value_size);
            reads += walk(&s, v, s.value_size);
            size_t cut = s.value_size ? (size_t)(next() % s.value_size) : 0;
            reads += walk(&s, m + span - cut, cut);
        }
        seqshm_schema_free(&s);
    }
    printf("schema rounds %ld accepted %ld reads %ld\n", rounds, accepted, reads);
    return 0;
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 100000;
    long schema_rounds = argc > 2 ? atol(argv[2]) : rounds;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), span = 32 * page;
    unsigned char *m = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + span, page, PROT_NONE) != 0) {
        perror("fuzz_header: mmap");
        return 1;
    }
    static unsigned char buf[1 << 17];
    if (fixed(m, span) != 0)
        return 1;
    static const uint64_t fields[] = {8, 16, 24, 32, 40, 48, 56, 104, 112, 128};
    long accepted = 0, values = 0;
    for (long r = 0; r < rounds; r++) {
        size_t size = 8 * (32 + next() % (span / 8 - 32)); /* 256 .. span, a multiple of 8 */
        unsigned char *b = m + span - size;                 /* ends at the guard page */
        cur_size = size;
        int with_schema = (int)(next() % 2);
        layout l = valid(b, size, 1 + next() % 3000, with_schema);
        int muts = (int)(next() % 4);
        for (int i = 0; i < muts; i++) {
            uint64_t v;
            switch (next() % 6) {
            case 0: v = next(); break;
            case 1: v = next() % 16; break;
            case 2: v = size - next() % 300; break;
            case 3: v = UINT64_MAX - next() % 4; break;
            case 4: v = (uint64_t)1 << (next() % 64); break;
            default: v = next() % (size + 1); break;
            }
            uint64_t off = fields[next() % (sizeof fields / sizeof fields[0])];
            if (next() % 3 == 0) /* a slot word: sseq, len or time of any slot */
                off = l.s0 + (next() % l.n) * l.ss + (next() % 3) * 8;
            if (with_schema && next() % 4 == 0) /* a word of the schema area */
                off = 256 + 8 * (next() % 16);
            put(b, off, v);
        }
        seqshm h;
        int rc = attach(&h, b, size);
        if (rc != SEQSHM_OK)
            continue;
        accepted++;
        seqshm_geometry *g = &h.g;
        if (g->total_size > size || g->slot_count < 2 || g->slot_count > 64 ||
            (g->slot_count & (g->slot_count - 1)) || g->slot0 + g->slot_count * g->slot_size > size ||
            g->slot_size < SEQSHM_SLOT_HEADER_SIZE + roundup(g->capacity, 8) || g->slot0 % 8 || g->slot_size % 8 ||
            g->slot0 < g->header_size ||
            (g->notify && (g->notify + 128 > size || (g->notify < g->slot0 + g->slot_count * g->slot_size &&
                                                      g->slot0 < g->notify + 128)))) {
            fprintf(stderr, "fuzz_header: round %ld: accepted a geometry outside the region\n", r);
            return 1;
        }
        seqshm_schema sc;
        rc = seqshm_decode_schema_area(b, g, &sc, h.detail, sizeof h.detail);
        if (rc == SEQSHM_OK)
            seqshm_schema_free(&sc);
        else if (rc != SEQSHM_E_CORRUPT) {
            fprintf(stderr, "fuzz_header: round %ld: schema area: result %d\n", r, rc);
            return 1;
        }
        seqshm_meta meta;
        size_t big = g->capacity < sizeof buf ? (size_t)g->capacity : sizeof buf;
        if (seqshm_read(&h, buf, big, &meta) == SEQSHM_OK)
            values++;
        (void)seqshm_read(&h, buf, next() % 8, &meta);
    }
    printf("rounds %ld accepted %ld values %ld\n", rounds, accepted, values);
    return fuzz_schema(schema_rounds, m, span);
}
