/*
 * fuzz_header - check that seqshm.h never reads outside a mapping, whatever
 * the header and slots hold. Used by clients/test.sh.
 *
 * The region under test ends exactly at a PROT_NONE guard page, so any read
 * past its end faults. Starting from a valid segment (the geometry the Go
 * writer makes), each round sets random header and slot words to random or
 * boundary values, then decodes the header and, if it is accepted, checks
 * the geometry's invariants and reads with large and small buffers.
 *
 * usage: fuzz_header [ROUNDS]   (exit 0 if every round passed)
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

/* valid writes a valid segment of capacity cap (Go's newGeometry) into b,
 * which has room for it, with write 1 complete. */
static void valid(unsigned char *b, uint64_t size, uint64_t cap) {
    memset(b, 0, size);
    uint64_t ss = roundup(64 + roundup(cap, 8), 128), s0 = 256, s1 = 256 + ss;
    uint64_t nt = roundup(s1 + ss, 65536), total = nt + 128;
    put(b, 8, 1);
    put(b, 16, 256);
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

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 100000;
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
        valid(b, size, 1 + next() % 3000);
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
                off = 256 + (next() % 2) * roundup(64 + 8, 128) + (next() % 2) * 16;
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
        h.base = b;
        h.map_size = size;
        seqshm_meta meta;
        size_t big = g->capacity < sizeof buf ? (size_t)g->capacity : sizeof buf;
        if (seqshm_read(&h, buf, big, &meta) == SEQSHM_OK)
            values++;
        (void)seqshm_read(&h, buf, next() % 8, &meta);
    }
    printf("rounds %ld accepted %ld values %ld\n", rounds, accepted, values);
    return 0;
}
