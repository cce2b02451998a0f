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

/* valid writes a valid segment of capacity cap (Go's newGeometry) into b,
 * which has room for it, with write 1 complete and, if with_schema, a text
 * schema in a 128-byte schema area. */
static void valid(unsigned char *b, uint64_t size, uint64_t cap, int with_schema) {
    memset(b, 0, size);
    uint64_t hs = with_schema ? 256 + 128 : 256;
    uint64_t ss = roundup(64 + roundup(cap, 8), 128), s0 = hs, s1 = hs + ss;
    uint64_t nt = roundup(s1 + ss, 4096), total = nt + 128;
    if (with_schema && hs <= size)
        memcpy(b + 256, text_schema, sizeof text_schema);
    put(b, 8, 1);
    put(b, 16, hs);
    put(b, 24, cap);
    put(b, 32, ss);
    put(b, 40, s0);
    put(b, 48, s1);
    put(b, 56, total < size ? total : size);
    put(b, 104, total <= size ? nt : 0);
    put(b, 0, SEQSHM_MAGIC);
    put(b, 128, 2);
    put(b, s1, cap < 5 ? cap : 5);
    put(b, s1 + 16, 1);
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
    static const uint64_t fields[] = {8, 16, 24, 32, 40, 48, 56, 104, 112, 128};
    long accepted = 0, values = 0;
    for (long r = 0; r < rounds; r++) {
        size_t size = 8 * (32 + next() % (span / 8 - 32)); /* 256 .. span, a multiple of 8 */
        unsigned char *b = m + span - size;                 /* ends at the guard page */
        cur_size = size;
        int with_schema = (int)(next() % 2);
        valid(b, size, 1 + next() % 3000, with_schema);
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
            if (next() % 3 == 0) /* a slot word: len or write number of either slot */
                off = (with_schema ? 384 : 256) + (next() % 2) * roundup(64 + 8, 128) + (next() % 2) * 16;
            if (with_schema && next() % 4 == 0) /* a word of the schema area */
                off = 256 + 8 * (next() % 16);
            put(b, off, v);
        }
        seqshm h;
        memset(&h, 0, sizeof h);
        h.fd = -1;
        int rc = seqshm_decode_header(b, size, &h.g, h.detail, sizeof h.detail);
        if (rc != SEQSHM_OK)
            continue;
        accepted++;
        seqshm_geometry *g = &h.g;
        if (g->total_size > size || g->slot[0] + g->slot_size > size || g->slot[1] + g->slot_size > size ||
            g->slot_size < 64 + roundup(g->capacity, 8) || g->slot[0] % 8 || g->slot[1] % 8 ||
            (g->notify && g->notify + 128 > size)) {
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
        h.base = b;
        h.map_size = size;
        seqshm_meta meta;
        size_t big = g->capacity < sizeof buf ? (size_t)g->capacity : sizeof buf;
        if (seqshm_read(&h, buf, big, &meta) == SEQSHM_OK)
            values++;
        (void)seqshm_read(&h, buf, next() % 8, &meta);
    }
    printf("rounds %ld accepted %ld values %ld\n", rounds, accepted, values);
    return fuzz_schema(schema_rounds, m, span);
}
