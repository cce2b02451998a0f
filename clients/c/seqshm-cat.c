/*
 * seqshm-cat - print the latest value of a seqshm segment.
 *
 * usage: seqshm-cat [-f] [-j] [-i] [-d SECONDS] [--verify-crc] NAME
 *
 *   (no flag)     print the newest value followed by a newline, exit
 *   -f            follow: print every new value as it is published (values
 *                 published faster than they are printed coalesce); stops
 *                 on SIGINT or SIGTERM (exit 0), or after -d SECONDS
 *   -j            JSON, one object per line: name, seq, len, time_ns,
 *                 writer, and value (a string if the value is UTF-8, else
 *                 value_base64)
 *   -i            print the header and the writer's state instead of a value
 *   -d SECONDS    with -f, stop after SECONDS
 *   --verify-crc  check every value read is a test payload (first 8 bytes =
 *                 write number little-endian, last 4 = CRC-32/IEEE of the
 *                 rest); print "reads N torn T lapped L" instead of values;
 *                 exit 1 if any value was torn. With -f it reads back to
 *                 back without waiting, to race the writer as hard as it can
 *
 * Segments are looked up in $SEQSHM_DIR, else /dev/shm. Exit status: 0 ok,
 * 1 failure (with "seqshm-cat: NAME: message" on stderr), 2 usage error.
 *
 * Build: gcc -std=c11 -O2 -Wall -Wextra -Werror -o seqshm-cat seqshm-cat.c
 */
#include "seqshm.h"

#include <getopt.h>
#include <signal.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static const char *prog = "seqshm-cat";

static int fail(const char *name, const char *msg) {
    fprintf(stderr, "%s: %s: %s\n", prog, name, msg);
    return 1;
}

static int usage(void) {
    fprintf(stderr, "usage: %s [-f] [-j] [-i] [-d SECONDS] [--verify-crc] NAME\n", prog);
    return 2;
}

/* ---- CRC-32/IEEE (reflected, polynomial 0xEDB88320), as Go's crc32.ChecksumIEEE */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_ieee(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8); /* little-endian host (seqshm.h checks) */
    return v;
}

static uint32_t le32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* verify reports whether p is the test payload of write seq. */
static int verify(const unsigned char *p, uint64_t n, uint64_t seq) {
    return n >= 12 && le64(p) == seq && le32(p + n - 4) == crc32_ieee(p, (size_t)n - 4);
}

/* ---- JSON output ------------------------------------------------------- */

static int valid_utf8(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

static void json_string(FILE *f, const unsigned char *p, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc((int)c, f);
        }
    }
    fputc('"', f);
}

static void base64(FILE *f, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', f);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
    fputc('"', f);
}

/* writer_status names the writer's state: running, closed, died, ... */
static const char *writer_status(seqshm *h) {
    seqshm_info info;
    if (seqshm_get_info(h, &info) != SEQSHM_OK)
        return "unknown";
    return seqshm_state_name(info.state, info.lock_held, info.seq, info.writer_pid);
}

static void print_value(seqshm *h, const char *name, int json, const unsigned char *buf, const seqshm_meta *m) {
    if (!json) {
        fwrite(buf, 1, (size_t)m->len, stdout);
        fputc('\n', stdout);
        return;
    }
    printf("{\"name\":");
    json_string(stdout, (const unsigned char *)name, strlen(name));
    printf(",\"seq\":%llu,\"len\":%llu,\"time_ns\":%lld,\"writer\":\"%s\",", (unsigned long long)m->seq,
           (unsigned long long)m->len, (long long)m->unix_ns, writer_status(h));
    if (valid_utf8(buf, (size_t)m->len)) {
        printf("\"value\":");
        json_string(stdout, buf, (size_t)m->len);
    } else {
        printf("\"value_base64\":");
        base64(stdout, buf, (size_t)m->len);
    }
    printf("}\n");
}

static int print_info(seqshm *h, const char *name, int json) {
    seqshm_info in;
    int rc = seqshm_get_info(h, &in);
    if (rc != SEQSHM_OK)
        return fail(name, seqshm_errmsg(h, rc));
    const char *st = seqshm_state_name(in.state, in.lock_held, in.seq, in.writer_pid);
    if (json) {
        printf("{\"name\":");
        json_string(stdout, (const unsigned char *)name, strlen(name));
        printf(",\"seq\":%llu,\"counter\":%llu,\"capacity\":%llu,\"slot_size\":%llu,\"slots\":[%llu,%llu],"
               "\"total_size\":%llu,\"map_size\":%llu,\"fingerprint\":%llu,\"notify\":%llu,\"flags\":%llu,"
               "\"created_ns\":%lld,\"writer\":\"%s\",\"writer_state\":%llu,\"writer_pid\":%llu,"
               "\"writer_start_ns\":%lld,\"lock_held\":%d,\"lock_pid\":%lld}\n",
               (unsigned long long)in.seq, (unsigned long long)in.counter, (unsigned long long)in.g.capacity,
               (unsigned long long)in.g.slot_size, (unsigned long long)in.g.slot[0],
               (unsigned long long)in.g.slot[1], (unsigned long long)in.g.total_size,
               (unsigned long long)in.map_size, (unsigned long long)in.g.fingerprint,
               (unsigned long long)in.g.notify, (unsigned long long)in.g.flags, (long long)in.created_ns, st,
               (unsigned long long)in.state, (unsigned long long)in.writer_pid, (long long)in.writer_start_ns,
               in.lock_held, (long long)in.lock_pid);
        return 0;
    }
    printf("name:         %s\n", name);
    printf("path:         %s\n", h->path);
    printf("seq:          %llu (counter %llu%s)\n", (unsigned long long)in.seq, (unsigned long long)in.counter,
           in.counter % 2 ? ", write in progress" : "");
    printf("capacity:     %llu\n", (unsigned long long)in.g.capacity);
    printf("slots:        %llu and %llu, %llu bytes each\n", (unsigned long long)in.g.slot[0],
           (unsigned long long)in.g.slot[1], (unsigned long long)in.g.slot_size);
    printf("size:         %llu (mapped %llu)\n", (unsigned long long)in.g.total_size,
           (unsigned long long)in.map_size);
    printf("fingerprint:  %#llx\n", (unsigned long long)in.g.fingerprint);
    printf("waiter area:  %llu\n", (unsigned long long)in.g.notify);
    printf("flags:        %#llx\n", (unsigned long long)in.g.flags);
    printf("created:      %lld\n", (long long)in.created_ns);
    printf("writer:       %s (state %llu, pid %llu, lock %s)\n", st, (unsigned long long)in.state,
           (unsigned long long)in.writer_pid,
           in.lock_held < 0 ? "unknown" : in.lock_held ? "held" : "free");
    return 0;
}

int main(int argc, char **argv) {
    int follow = 0, json = 0, info = 0, check = 0;
    double duration = -1;
    static const struct option longopts[] = {
        {"verify-crc", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "fjid:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': follow = 1; break;
        case 'j': json = 1; break;
        case 'i': info = 1; break;
        case 'c': check = 1; break;
        case 'd': {
            char *end;
            duration = strtod(optarg, &end);
            if (*end != 0 || duration < 0) {
                fprintf(stderr, "%s: -d %s: not a number of seconds\n", prog, optarg);
                return usage();
            }
            break;
        }
        case 'h': usage(); return 0;
        default: return usage();
        }
    }
    if (optind != argc - 1)
        return usage();
    const char *name = argv[optind];

    seqshm h;
    int rc = seqshm_open(&h, name);
    if (rc != SEQSHM_OK) {
        if (rc == SEQSHM_E_NOENT) {
            fprintf(stderr, "%s: %s: no such segment in %s\n", prog, name, seqshm_dir());
            return 1;
        }
        return fail(name, seqshm_errmsg(&h, rc));
    }
    if (info) {
        int r = print_info(&h, name, json);
        seqshm_close(&h);
        return r;
    }
    crc_init();
    size_t cap = (size_t)h.g.capacity;
    unsigned char *buf = malloc(cap > 0 ? cap : 1);
    if (buf == NULL) {
        seqshm_close(&h);
        return fail(name, "out of memory");
    }
    seqshm_meta m;
    int status = 0;
    if (!follow) {
        rc = seqshm_read(&h, buf, cap, &m);
        if (rc == SEQSHM_E_LAPPED)
            rc = seqshm_read(&h, buf, cap, &m);
        if (rc != SEQSHM_OK) {
            status = fail(name, seqshm_errmsg(&h, rc));
        } else if (check) {
            int ok = verify(buf, m.len, m.seq);
            printf("reads 1 torn %d lapped 0\n", !ok);
            status = ok ? 0 : 1;
        } else {
            print_value(&h, name, json, buf, &m);
        }
        free(buf);
        seqshm_close(&h);
        if (fflush(stdout) != 0)
            status = fail(name, "writing output failed");
        return status;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_DFL);
    (void)seqshm_enable_futex(&h); /* best effort: without it, poll */

    int64_t end = duration < 0 ? INT64_MAX : seqshm__now_ns() + (int64_t)(duration * 1e9);
    uint64_t last = 0, reads = 0, torn = 0, lapped = 0;
    while (!stop) {
        rc = seqshm_read(&h, buf, cap, &m);
        if (rc == SEQSHM_OK) {
            if (m.seq < last) {
                status = fail(name, "value went back in time");
                break;
            }
            if (check) {
                reads++;
                if (!verify(buf, m.len, m.seq)) {
                    torn++;
                    fprintf(stderr, "%s: %s: torn value accepted: write %llu, %llu bytes\n", prog, name,
                            (unsigned long long)m.seq, (unsigned long long)m.len);
                }
            } else if (m.seq > last) {
                print_value(&h, name, json, buf, &m);
                if (fflush(stdout) != 0) {
                    status = fail(name, "writing output failed");
                    break;
                }
            }
            last = m.seq;
        } else if (rc == SEQSHM_E_LAPPED) {
            lapped++;
            continue;
        } else if (rc != SEQSHM_E_NOVALUE) {
            status = fail(name, seqshm_errmsg(&h, rc));
            break;
        }
        if (check && reads % 256 != 0)
            continue; /* verifying: read back to back, look at the clock now and then */
        int64_t now = seqshm__now_ns();
        if (now >= end)
            break;
        if (check)
            continue;
        int64_t left = end - now;
        uint64_t seq;
        /* Wake at least every 200 ms to notice a signal or the deadline. */
        (void)seqshm_wait(&h, last, left < 200000000 ? left : 200000000, &seq);
    }
    if (check) {
        printf("reads %llu torn %llu lapped %llu\n", (unsigned long long)reads, (unsigned long long)torn,
               (unsigned long long)lapped);
        if (torn > 0 || reads == 0)
            status = 1;
    }
    free(buf);
    seqshm_close(&h);
    if (fflush(stdout) != 0 && status == 0)
        status = fail(name, "writing output failed");
    return status;
}
