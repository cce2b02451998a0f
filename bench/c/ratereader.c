// ratereader: a minimal C seqlock reader of a seqshm segment (layout
// version 2, docs/layout.md), the control of seqrate. It reads as fast as
// it can (or once every EVERY ns) during [START, START+DUR) of
// CLOCK_REALTIME and prints one line of counts in seqrate's format.
// An attempt is retried up to 1000 times (as the C++ seqlock reader of the
// external comparison driver, docs/benchmarks.md); a read that gives up
// counts as lapped.
//
//   ratereader PATH SIZE START_NS DUR_NS EVERY_NS CPU   (CPU -1: not pinned)
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define U64(b, off) ((uint64_t *)((char *)(b) + (off)))

struct seg { const uint64_t *seq; const char *slot0; uint64_t slot_size, mask, cap; };

// seq_read: the protocol of docs/layout.md, as bench/c/seqref.c, with a
// bound. Returns the write number, 0 if lapped 1000 times.
__attribute__((noinline)) static uint64_t seq_read(const struct seg *s, void *buf, size_t buflen, size_t *len) {
	for (int a = 0; a < 1000; a++) {
		uint64_t c = __atomic_load_n(s->seq, __ATOMIC_ACQUIRE);
		if (c < 2) return 0;
		uint64_t m = c / 2;
		const char *slot = s->slot0 + (m & s->mask) * s->slot_size;
		uint64_t s1 = __atomic_load_n((const uint64_t *)slot, __ATOMIC_ACQUIRE);
		if (s1 != 2 * m) {
			if (s1 < 2 * m) { fprintf(stderr, "ratereader: corrupt\n"); exit(1); }
			continue;
		}
		uint64_t n = *(volatile uint64_t *)(slot + 8);
		(void)*(volatile uint64_t *)(slot + 16);
		if (n <= s->cap && n <= buflen) memcpy(buf, slot + 64, n);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n((const uint64_t *)slot, __ATOMIC_RELAXED) != s1) continue;
		if (n > s->cap) { fprintf(stderr, "ratereader: corrupt\n"); exit(1); }
		*len = n;
		return m;
	}
	return 0;
}

static int torn(const unsigned char *p, size_t n) {
	uint64_t a, b;
	memcpy(&a, p, 8);
	for (size_t i = 8; i + 8 <= n; i += 8) { memcpy(&b, p + i, 8); if (b != a) return 1; }
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 7) { fprintf(stderr, "usage: ratereader PATH SIZE START_NS DUR_NS EVERY_NS CPU\n"); return 2; }
	size_t size = strtoul(argv[2], 0, 10);
	int64_t start = strtoll(argv[3], 0, 10), end = start + strtoll(argv[4], 0, 10), every = strtoll(argv[5], 0, 10);
	int cpu = atoi(argv[6]);
	alarm(60);
	if (cpu >= 0) {
		cpu_set_t set; CPU_ZERO(&set); CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set)) perror("sched_setaffinity");
	}
	// The writer creates the file, then sizes it, then sets the magic.
	int fd = -1;
	struct stat st;
	for (;; usleep(1000)) {
		if (fd < 0) fd = open(argv[1], O_RDONLY);
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= 256) break;
	}
	char *b = mmap(0, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED) { perror("mmap"); return 1; }
	while (__atomic_load_n(U64(b, 0), __ATOMIC_ACQUIRE) == 0) usleep(1000);
	if (*U64(b, 8) != 2) { fprintf(stderr, "ratereader: layout version %lu, want 2\n", (unsigned long)*U64(b, 8)); return 1; }
	struct seg s = {U64(b, 128), b + *U64(b, 40), *U64(b, 32), *U64(b, 48) - 1, *U64(b, 24)};
	unsigned char *buf = aligned_alloc(64, 4096 > size ? 4096 : size);
	uint64_t ops = 0, lapped = 0, fresh = 0, bad = 0, last = 0;
	int64_t d = start - now() - 2000000;
	if (d > 0) { struct timespec ts = {d / 1000000000, d % 1000000000}; nanosleep(&ts, 0); }
	while (now() < start) {}
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	int64_t t = now(), t0 = t;
	size_t n;
	#define ONE() do { uint64_t m = seq_read(&s, buf, size, &n); \
		if (!m) lapped++; else { ops++; if (torn(buf, n)) bad++; if (m != last) { fresh++; last = m; } } } while (0)
	if (every > 0) {
		for (int64_t next = t0; t < end;) { ONE(); next += every; while ((t = now()) < next) {} }
	} else {
		while (t < end) { for (int k = 0; k < 64; k++) ONE(); t = now(); }
	}
	double secs = (now() - t0) / 1e9;
	getrusage(RUSAGE_SELF, &r1);
	printf("role=reader impl=c ops=%lu secs=%.4f rate=%.0f torn=%lu lapped=%lu fresh=%lu vcsw=%ld ivcsw=%ld\n",
	       ops, secs, ops / secs, bad, lapped, fresh, r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw);
	return 0;
}
