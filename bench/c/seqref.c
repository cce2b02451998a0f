// seqref: the C reference for seqbench. A seqlock reader and writer on the
// SAME byte layout as seqlock/layout.go (layout version 2), written the way
// a careful C programmer would (rigtorp/Linux style: relaxed/acquire/release
// atomics around memcpy), plus the kernel baselines (pipe, Unix socket, raw
// futex) as ping-pong pairs. Built by seqbench with `gcc -O2`.
//
//   seqref pp-seqlock|pp-futex|pp-pipe|pp-uds SIZE ITERS WARMUP CPU0 CPU1 DIR OUT
//          -> ping (CPU0) and pong (CPU1, forked) exchange SIZE bytes
//             WARMUP+ITERS times; OUT gets ITERS round-trip times (int64 ns)
//   seqref check PATH       -> reads a segment written by the Go writer and
//                              prints "seq len hexpayload"
//
// Built with -DSEQREF_LIB (seqbench includes it through cgo) it has no main:
// seqbench calls loop_new and loop_run, the in-process loops, on its own
// pinned thread, so that the C and Go loops alternate in one process, on
// one thread.
//
// Everything is x86-64/arm64 Linux only; this is a benchmark, not a library.
#define _GNU_SOURCE
#ifdef SEQREF_LIB
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// ---- layout (must match seqlock/layout.go) ----
enum {
	OFF_MAGIC = 0, OFF_VERSION = 8, OFF_HEADER_SIZE = 16, OFF_CAPACITY = 24,
	OFF_SLOT_SIZE = 32, OFF_SLOT0 = 40, OFF_SLOT_COUNT = 48, OFF_TOTAL = 56,
	OFF_FINGERPRINT = 64, OFF_CREATED = 72, OFF_WSTATE = 80, OFF_WPID = 88,
	OFF_WSTART = 96, OFF_NOTIFY = 104, OFF_FLAGS = 112, OFF_SEQ = 128,
	HEADER_SIZE = 256, SLOT_HEADER = 64, SLOT_ALIGN = 128,
	NOTIFY_SIZE = 128,
	OFF_SLOT_SEQ = 0, OFF_SLOT_LEN = 8, OFF_SLOT_TIME = 16,
};
static const char MAGIC[8] = {'S', 'E', 'Q', 'S', 'H', 'M', 0, 0};

static size_t roundup(size_t n, size_t a) { return (n + a - 1) / a * a; }
static size_t slot_size(size_t cap) { return roundup(SLOT_HEADER + roundup(cap, 8), SLOT_ALIGN); }
// slot_count: 8 slots of up to 4 KiB, else 4 (seqlock/layout.go, slotCountFor).
static size_t slot_count(size_t cap) { return slot_size(cap) <= 4096 ? 8 : 4; }
// The waiter area starts on a page of its own (seqlock/waitalign_other.go;
// on Windows the 64 KiB allocation granularity, which this file does not
// target).
static size_t notify_off(size_t cap) { return roundup(HEADER_SIZE + slot_count(cap) * slot_size(cap), (size_t)sysconf(_SC_PAGESIZE)); }
static size_t total_size(size_t cap) { return notify_off(cap) + NOTIFY_SIZE; }

#define U64(b, off) ((uint64_t *)((char *)(b) + (off)))

struct seg {
	uint64_t *seq;
	uint32_t *waiters;
	char *slot0;
	uint64_t slot_size, mask;
	uint64_t cap;
	uint64_t next; // writer: number of the next write
};

static void seg_init_header(char *b, size_t cap) {
	size_t ss = slot_size(cap);
	*U64(b, OFF_VERSION) = 2;
	*U64(b, OFF_HEADER_SIZE) = HEADER_SIZE;
	*U64(b, OFF_CAPACITY) = cap;
	*U64(b, OFF_SLOT_SIZE) = ss;
	*U64(b, OFF_SLOT0) = HEADER_SIZE;
	*U64(b, OFF_SLOT_COUNT) = slot_count(cap);
	*U64(b, OFF_TOTAL) = total_size(cap);
	*U64(b, OFF_NOTIFY) = notify_off(cap);
	*U64(b, OFF_WSTATE) = 1;
	*U64(b, OFF_WPID) = (uint64_t)getpid();
	uint64_t m;
	memcpy(&m, MAGIC, 8);
	__atomic_store_n(U64(b, OFF_MAGIC), m, __ATOMIC_RELEASE);
}

// seg_attach trusts the header (a benchmark: the Go reader validates).
static int seg_attach(struct seg *s, char *b) {
	uint64_t m;
	memcpy(&m, MAGIC, 8);
	if (__atomic_load_n(U64(b, OFF_MAGIC), __ATOMIC_ACQUIRE) != m || *U64(b, OFF_VERSION) != 2) return -1;
	s->cap = *U64(b, OFF_CAPACITY);
	s->seq = U64(b, OFF_SEQ);
	s->slot0 = b + *U64(b, OFF_SLOT0);
	s->slot_size = *U64(b, OFF_SLOT_SIZE);
	s->mask = *U64(b, OFF_SLOT_COUNT) - 1;
	uint64_t n = *U64(b, OFF_NOTIFY);
	s->waiters = n ? (uint32_t *)(b + n) : NULL;
	s->next = __atomic_load_n(s->seq, __ATOMIC_RELAXED) / 2 + 1;
	return 0;
}

// seq_write: odd counter, odd slot word, fence, slot header and payload,
// release stores of the even slot word and counter. On x86-64 every access
// here is a plain MOV (the fences are compiler barriers); on arm64 it is
// STR; STR; DMB ISHST; ...; STLR; STLR.
__attribute__((noinline)) static void seq_write(struct seg *s, const void *p, size_t n, int notify) {
	uint64_t w = s->next++;
	char *slot = s->slot0 + (w & s->mask) * s->slot_size;
	__atomic_store_n(s->seq, 2 * w - 1, __ATOMIC_RELAXED);
	__atomic_store_n(U64(slot, OFF_SLOT_SEQ), 2 * w - 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	*U64(slot, OFF_SLOT_LEN) = n;
	*U64(slot, OFF_SLOT_TIME) = 0;
	memcpy(slot + SLOT_HEADER, p, n);
	__atomic_store_n(U64(slot, OFF_SLOT_SEQ), 2 * w, __ATOMIC_RELEASE);
	__atomic_store_n(s->seq, 2 * w, __ATOMIC_RELEASE);
	// The waiter word's check, as the Go writer does it (docs/layout.md W5):
	// a load; only with bit 0 set, a CAS that clears it and a wake.
	if (notify && s->waiters) {
		uint32_t v = __atomic_load_n(s->waiters, __ATOMIC_RELAXED);
		if ((v & 1) && __atomic_compare_exchange_n(s->waiters, &v, (v + 2) & ~1u, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			syscall(SYS_futex, s->waiters, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
	}
}

// seq_read: the same checks as the Go Reader (the slot word against the
// counter, length against capacity and buffer, lapping). Returns the
// length, -1 for no value, -2 for corrupt; *num gets the write number.
__attribute__((noinline)) static long seq_read(const struct seg *s, void *buf, size_t buflen, uint64_t *num) {
	for (;;) {
		uint64_t c = __atomic_load_n(s->seq, __ATOMIC_ACQUIRE);
		if (c < 2) return -1;
		uint64_t m = c / 2;
		const char *slot = s->slot0 + (m & s->mask) * s->slot_size;
		uint64_t s1 = __atomic_load_n((const uint64_t *)(slot + OFF_SLOT_SEQ), __ATOMIC_ACQUIRE);
		if (s1 != 2 * m) {
			if (s1 < 2 * m) return -2;
			continue;
		}
		uint64_t n = *(volatile uint64_t *)(slot + OFF_SLOT_LEN);
		if (n <= s->cap && n <= buflen) memcpy(buf, slot + SLOT_HEADER, n);
		(void)*(volatile uint64_t *)(slot + OFF_SLOT_TIME); // as the Go Reader: Meta.UnixNano
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n((const uint64_t *)(slot + OFF_SLOT_SEQ), __ATOMIC_RELAXED) != s1) continue;
		if (n > s->cap) return -2;
		*num = m;
		return (long)n;
	}
}

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pin(int cpu) {
	if (cpu < 0) return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) perror("seqref: sched_setaffinity");
}

static void die(const char *what) {
	perror(what);
	exit(1);
}

static char *map_file(const char *path, size_t size, int create, int writable) {
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | (create ? O_CREAT | O_EXCL : 0) | O_CLOEXEC, 0600);
	if (fd < 0) die(path);
	if (create && ftruncate(fd, (off_t)size) != 0) die("ftruncate");
	char *b = mmap(NULL, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED) die("mmap");
	close(fd);
	return b;
}

// ---- in-process loops ----

#ifdef SEQREF_LIB
static volatile uint64_t sink;

// A loop of the in-process benchmark: a private segment (not shared memory:
// the same layout in ordinary memory, as the Go loops use) and the
// caller's buffers.
struct loop {
	struct seg s;
	size_t size;
	char *p, *buf;
};

static struct loop *loop_new(size_t size) {
	struct loop *l = calloc(1, sizeof *l);
	size_t total = total_size(size);
	char *b = aligned_alloc(4096, roundup(total, 4096));
	if (!l || !b) die("alloc");
	memset(b, 0, total);
	seg_init_header(b, size);
	seg_attach(&l->s, b);
	l->size = size;
	l->p = calloc(1, size);
	l->buf = calloc(1, size);
	if (!l->p || !l->buf) die("calloc");
	seq_write(&l->s, l->p, size, 0);
	return l;
}

// loop_run performs ITERS reads (mode 'r'), writes ('w') or writes with
// the waiter-word check ('n') after a warm-up of a tenth as many, and
// returns ns per operation.
static double loop_run(struct loop *l, int mode, long iters) {
	uint64_t acc = 0, num;
	int reading = mode == 'r', notify = mode == 'n';
	// Warm the caches and the branch predictors.
	for (long i = 0; i < iters / 10; i++) {
		if (reading) acc += (uint64_t)seq_read(&l->s, l->buf, l->size, &num);
		else seq_write(&l->s, l->p, l->size, notify);
	}
	int64_t t0 = now_ns();
	if (reading) {
		for (long i = 0; i < iters; i++) {
			acc += (uint64_t)seq_read(&l->s, l->buf, l->size, &num);
			__asm__ volatile("" ::: "memory");
		}
	} else {
		for (long i = 0; i < iters; i++) {
			seq_write(&l->s, l->p, l->size, notify);
			__asm__ volatile("" ::: "memory");
		}
	}
	int64_t t1 = now_ns();
	sink = acc + (uint64_t)l->buf[0];
	return (double)(t1 - t0) / (double)iters;
}
#endif

// ---- ping-pong ----

struct pp {
	size_t size;
	long iters, warmup;
	int cpu0, cpu1;
	char path[2][4096];
};

static void put_i(char *p, size_t size, uint64_t i) {
	memcpy(p, &i, size < 8 ? size : 8);
}

static uint64_t get_i(const char *p, size_t size) {
	uint64_t i = 0;
	memcpy(&i, p, size < 8 ? size : 8);
	return i;
}

// pp_seqlock: ping publishes i into segment A and spins on B until the pong
// side has read it and published it back.
static void pp_seqlock(struct pp *c, int side, int64_t *rtt, long *errors) {
	struct seg mine, theirs;
	seg_attach(&mine, map_file(c->path[side], total_size(c->size), 0, 1));
	seg_attach(&theirs, map_file(c->path[1 - side], total_size(c->size), 0, 0));
	char *p = calloc(1, c->size), *buf = calloc(1, c->size);
	long n = c->warmup + c->iters;
	uint64_t num;
	if (side == 0) {
		for (long i = 1; i <= n; i++) {
			put_i(p, c->size, (uint64_t)i);
			int64_t t0 = now_ns();
			seq_write(&mine, p, c->size, 0);
			while (__atomic_load_n(theirs.seq, __ATOMIC_ACQUIRE) / 2 < (uint64_t)i) {
			}
			seq_read(&theirs, buf, c->size, &num);
			int64_t t1 = now_ns();
			if (i > c->warmup) rtt[i - c->warmup - 1] = t1 - t0;
			if (get_i(buf, c->size) != (uint64_t)i || num != (uint64_t)i) (*errors)++;
		}
	} else {
		uint64_t last = 0;
		for (long i = 1; i <= n; i++) {
			while (__atomic_load_n(theirs.seq, __ATOMIC_ACQUIRE) / 2 <= last) {
			}
			long got = seq_read(&theirs, buf, c->size, &num);
			last = num;
			seq_write(&mine, buf, got < 0 ? 0 : (size_t)got, 0);
		}
	}
}

static long futex_wait(uint32_t *w, uint32_t v) {
	return syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}
static long futex_wake(uint32_t *w) {
	return syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

// pp_futex: raw futex ping-pong on two words of a shared file mapping
// (shared futexes, like the Go Wait path); both sides block, never spin.
static void pp_futex(struct pp *c, int side, int64_t *rtt, long *errors) {
	char *b = map_file(c->path[0], 4096, 0, 1);
	uint32_t *a = (uint32_t *)b, *bw = (uint32_t *)(b + 128);
	uint32_t *mine = side == 0 ? a : bw, *theirs = side == 0 ? bw : a;
	long n = c->warmup + c->iters;
	uint32_t last = 0;
	for (long i = 1; i <= n; i++) {
		int64_t t0 = now_ns();
		if (side == 0) {
			__atomic_store_n(mine, (uint32_t)i, __ATOMIC_SEQ_CST);
			futex_wake(mine);
		}
		uint32_t v;
		while ((v = __atomic_load_n(theirs, __ATOMIC_SEQ_CST)) == last) futex_wait(theirs, last);
		last = v;
		if (side == 1) {
			__atomic_store_n(mine, v, __ATOMIC_SEQ_CST);
			futex_wake(mine);
		} else {
			int64_t t1 = now_ns();
			if (i > c->warmup) rtt[i - c->warmup - 1] = t1 - t0;
			if (v != (uint32_t)i) (*errors)++;
		}
	}
}

static void full_io(int fd, char *p, size_t n, int wr) {
	while (n > 0) {
		ssize_t k = wr ? write(fd, p, n) : read(fd, p, n);
		if (k <= 0) {
			if (k < 0 && errno == EINTR) continue;
			die(wr ? "write" : "read");
		}
		p += k;
		n -= (size_t)k;
	}
}

// pp_stream: ping writes SIZE bytes, pong reads them and writes them back.
static void pp_stream(struct pp *c, int side, int rfd, int wfd, int64_t *rtt, long *errors) {
	char *buf = calloc(1, c->size);
	long n = c->warmup + c->iters;
	for (long i = 1; i <= n; i++) {
		if (side == 0) {
			put_i(buf, c->size, (uint64_t)i);
			int64_t t0 = now_ns();
			full_io(wfd, buf, c->size, 1);
			full_io(rfd, buf, c->size, 0);
			int64_t t1 = now_ns();
			if (i > c->warmup) rtt[i - c->warmup - 1] = t1 - t0;
			if (get_i(buf, c->size) != (uint64_t)i) (*errors)++;
		} else {
			full_io(rfd, buf, c->size, 0);
			full_io(wfd, buf, c->size, 1);
		}
	}
}

static int pingpong(const char *mode, struct pp *c, const char *dir, const char *out) {
	int seqlock = strcmp(mode, "pp-seqlock") == 0, futex = strcmp(mode, "pp-futex") == 0;
	int pipe_ = strcmp(mode, "pp-pipe") == 0, uds = strcmp(mode, "pp-uds") == 0;
	if (!seqlock && !futex && !pipe_ && !uds) return 2;
	for (int k = 0; k < 2; k++) snprintf(c->path[k], sizeof c->path[k], "%s/seqbench-c-%d-%c", dir, (int)getpid(), 'a' + k);
	if (seqlock) {
		for (int k = 0; k < 2; k++) {
			char *b = map_file(c->path[k], total_size(c->size), 1, 1);
			seg_init_header(b, c->size);
			munmap(b, total_size(c->size));
		}
	} else if (futex) {
		munmap(map_file(c->path[0], 4096, 1, 1), 4096);
	}
	int fds[4] = {-1, -1, -1, -1}; // ping reads fds[0], writes fds[1]; pong reads fds[2], writes fds[3]
	if (pipe_) {
		int p1[2], p2[2];
		if (pipe(p1) || pipe(p2)) die("pipe");
		fds[0] = p2[0], fds[1] = p1[1], fds[2] = p1[0], fds[3] = p2[1];
	} else if (uds) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) die("socketpair");
		fds[0] = fds[1] = sv[0];
		fds[2] = fds[3] = sv[1];
	}
	int64_t *rtt = calloc((size_t)c->iters, sizeof *rtt);
	long errors = 0;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) die("fork");
	int side = pid == 0;
	pin(side ? c->cpu1 : c->cpu0);
	if (seqlock) pp_seqlock(c, side, rtt, &errors);
	else if (futex) pp_futex(c, side, rtt, &errors);
	else pp_stream(c, side, fds[side * 2], fds[side * 2 + 1], rtt, &errors);
	if (side) _exit(0);
	int st;
	waitpid(pid, &st, 0);
	unlink(c->path[0]);
	if (seqlock) unlink(c->path[1]);
	FILE *f = fopen(out, "wb");
	if (!f || fwrite(rtt, sizeof *rtt, (size_t)c->iters, f) != (size_t)c->iters || fclose(f)) die(out);
	if (errors || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "seqref: %s: %ld bad replies, pong status %d\n", mode, errors, st);
		return 1;
	}
	return 0;
}

// check reads a segment made by the Go writer with the C reader above,
// checking the header against the layout computed here from the capacity.
static int check(const char *path) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) die(path);
	struct stat st;
	if (fstat(fd, &st)) die("fstat");
	char *b = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED) die("mmap");
	struct seg s;
	if (seg_attach(&s, b)) {
		fprintf(stderr, "seqref: %s: bad magic or version\n", path);
		return 1;
	}
	size_t cap = s.cap;
	if (*U64(b, OFF_HEADER_SIZE) != HEADER_SIZE || *U64(b, OFF_SLOT_SIZE) != slot_size(cap) ||
	    *U64(b, OFF_SLOT0) != HEADER_SIZE || *U64(b, OFF_SLOT_COUNT) != slot_count(cap) ||
	    *U64(b, OFF_NOTIFY) != notify_off(cap) || *U64(b, OFF_TOTAL) != total_size(cap) ||
	    (size_t)st.st_size < total_size(cap)) {
		fprintf(stderr, "seqref: %s: header does not match the layout for capacity %zu\n", path, cap);
		return 1;
	}
	char *buf = calloc(1, cap);
	uint64_t num = 0;
	long n = seq_read(&s, buf, cap, &num);
	if (n < 0) {
		fprintf(stderr, "seqref: %s: read: %ld\n", path, n);
		return 1;
	}
	printf("%llu %ld ", (unsigned long long)num, n);
	for (long i = 0; i < n; i++) printf("%02x", (unsigned char)buf[i]);
	printf("\n");
	return 0;
}

#ifndef SEQREF_LIB
int main(int argc, char **argv) {
	if (argc == 3 && strcmp(argv[1], "check") == 0) return check(argv[2]);
	if (argc == 9) {
		struct pp c = {.size = (size_t)atol(argv[2]), .iters = atol(argv[3]), .warmup = atol(argv[4]),
			       .cpu0 = atoi(argv[5]), .cpu1 = atoi(argv[6])};
		int rc = pingpong(argv[1], &c, argv[7], argv[8]);
		if (rc != 2) return rc;
	}
	fprintf(stderr, "usage: seqref pp-seqlock|pp-futex|pp-pipe|pp-uds SIZE ITERS WARMUP CPU0 CPU1 DIR OUT\n"
			"       seqref check PATH\n");
	return 2;
}
#endif
