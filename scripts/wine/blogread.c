/*
 * blogread: read a seqshm segment the way the classic Windows shared-memory
 * example does, with no seqshm code: OpenFileMappingW(FILE_MAP_READ) of
 * L"Local\\seqshm.NAME" and MapViewOfFile, while a publisher runs. The
 * layout is docs/layout.md's; this file depends on nothing else.
 *
 *   header at 0: magic "SEQSHM\0\0"; u64 layout version 2 at 8; u64
 *   header size at 16; u64 slot size at 32; u64 offset of slot 0 at 40; u64
 *   number of slots N at 48 (a power of two); u64 counter at 128, counting
 *   half-steps (odd while a write is in progress). The newest complete
 *   write is m = counter/2, in slot m%N at slot0 + (m%N)*slot_size; a slot
 *   holds its u64 sequence word at +0 (2m once write m is complete in it),
 *   u64 length at +8, publish time (Unix ns) at +16, the payload at +64. A
 *   copy is valid iff the slot's sequence word is 2m before it and still 2m
 *   after it (the writer has not begun to overwrite the slot, which write
 *   m+N does).
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -o blogread.exe blogread.c
 * Usage: blogread NAME       prints "seq=N len=L hdr=H value=VALUE", exit 0;
 *                            exit 1 if the mapping is missing or not a
 *                            segment of layout version 2.
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
    if (load64(b + 8) != 2) {
        fprintf(stderr, "blogread: layout version %llu, not 2\n", (unsigned long long)load64(b + 8));
        return 1;
    }
    /* Trusting the header, as such examples do (a real reader validates it:
     * docs/layout.md, "Validating a header"). */
    uint64_t hdr = load64(b + 16), slot_size = load64(b + 32), slot0 = load64(b + 40), nslots = load64(b + 48);
    if (nslots == 0 || (nslots & (nslots - 1)) != 0) {
        fprintf(stderr, "blogread: %llu slots, not a power of two\n", (unsigned long long)nslots);
        return 1;
    }
    static char value[1 << 16];
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t m = load64(b + 128) / 2;
        if (m == 0) {
            fprintf(stderr, "blogread: no value yet\n");
            return 1;
        }
        const volatile unsigned char *s = b + slot0 + (m % nslots) * slot_size;
        uint64_t s1 = load64(s + 0);
        if (s1 != 2 * m)
            continue; /* overwritten since (or broken): try again */
        uint64_t len = load64(s + 8);
        if (len > sizeof value)
            len = sizeof value;
        for (uint64_t i = 0; i < len; i++)
            value[i] = s[64 + i];
        __asm__ __volatile__("" ::: "memory");
        if (load64(s + 0) == s1) {
            printf("seq=%llu len=%llu hdr=%llu value=%.*s\n", (unsigned long long)m, (unsigned long long)len,
                   (unsigned long long)hdr, (int)len, value);
            return 0;
        }
    }
    fprintf(stderr, "blogread: lapped 1000 times\n");
    return 1;
}
