/*
 * blogread: read a seqshm segment the way the classic Windows shared-memory
 * example does, with no seqshm code: OpenFileMappingW(FILE_MAP_READ) of
 * L"Local\\seqshm.NAME" and MapViewOfFile, while a publisher runs. The
 * layout is docs/layout.md's; this file depends on nothing else.
 *
 *   header at 0: magic "SEQSHM\0\0"; u64 header size at 16; u64 slot
 *   offsets at 40 and 48; u64 counter at 128, counting half-steps (odd while
 *   a write is in progress). The newest complete write is m = counter/2, in
 *   slot m%2; a slot holds u64 length at +0, publish time (Unix ns) at +8,
 *   write number at +16, the payload at +64. A copy is valid iff, reading
 *   the counter again afterwards, counter2 <= 2*m+2 (the writer has not
 *   begun to overwrite slot m%2, which write m+2 does).
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -o blogread.exe blogread.c
 * Usage: blogread NAME       prints "seq=N len=L value=VALUE", exit 0;
 *                            exit 1 if the mapping is missing or not a segment.
 */
#include <windows.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t load64(const volatile unsigned char *p)
{
    /* Aligned 8-byte loads are atomic on x86-64; the compiler barrier keeps
     * the order of the loads as written (x86 does not reorder loads). */
    uint64_t v = *(const volatile uint64_t *)p;
    __asm__ __volatile__("" ::: "memory");
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: blogread NAME\n");
        return 2;
    }
    wchar_t name[512];
    swprintf(name, 512, L"Local\\seqshm.%hs", argv[1]);

    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
    if (h == NULL) {
        fprintf(stderr, "blogread: OpenFileMappingW(%ls): error %lu\n", name, GetLastError());
        return 1;
    }
    const volatile unsigned char *b = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    if (b == NULL) {
        fprintf(stderr, "blogread: MapViewOfFile: error %lu\n", GetLastError());
        return 1;
    }
    if (memcmp((const void *)b, "SEQSHM\0\0", 8) != 0) {
        fprintf(stderr, "blogread: not a seqshm segment\n");
        return 1;
    }
    uint64_t hdr = load64(b + 16), slot[2] = {load64(b + 40), load64(b + 48)};
    static char value[1 << 16];
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t c1 = load64(b + 128);
        uint64_t m = c1 / 2;
        if (m == 0) {
            fprintf(stderr, "blogread: no value yet\n");
            return 1;
        }
        const volatile unsigned char *s = b + slot[m % 2];
        uint64_t len = load64(s + 0), num = load64(s + 16);
        if (len > sizeof value)
            len = sizeof value;
        for (uint64_t i = 0; i < len; i++)
            value[i] = s[64 + i];
        __asm__ __volatile__("" ::: "memory");
        uint64_t c2 = load64(b + 128);
        if (c2 <= 2 * m + 2 && num == m) {
            printf("seq=%llu len=%llu hdr=%llu value=%.*s\n", (unsigned long long)m,
                   (unsigned long long)len, (unsigned long long)hdr, (int)len, value);
            return 0;
        }
    }
    fprintf(stderr, "blogread: lapped 1000 times\n");
    return 1;
}
